"""The README's pictures, made again from the built-in lab: the demo (a lab generated, served on
127.0.0.1 and scanned twice), its report in English and Japanese with their decks, and the trend.

    scripts/pictures                    # writes docs/*.png (bootstraps first)
    .venv/bin/python scripts/docs_pictures.py --out docs --keep /tmp/pictures

Charts are copied from the reports at half size (960 x 540); the deck's first pages are rendered
by LibreOffice (headless, to PDF) and poppler's pdftoppm, at the same size. Needs `soffice` and
`pdftoppm` (scripts/bootstrap installs libreoffice-impress and poppler-utils).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from survey.cli.demo import run_demo
from survey.report.deck import DECK
from survey.report.write import CHARTS_DIR, write_report

SIZE = (960, 540)
#: docs/<name>.png ← the chart of (report folder, chart stem).
CHARTS = {
    "types_domains": ("report", "types_domains"),
    "policy_effective_volume": ("report", "policy_effective_volume"),
    "rua_vendors_domains": ("report", "rua_vendors_domains"),
    "types_volume_ja": ("report-ja", "types_volume"),
    "trend_types_domains": ("trend", "types_domains"),
}
#: docs/<name>.png ← page (1-based) of the deck of a report folder.
PAGES = {
    "deck_1": ("report", 1),  # the title
    "deck_2": ("report", 2),  # the summary: types A–F by domains and by volume
    "deck_3": ("report", 3),  # the first chart
    "deck_2_ja": ("report-ja", 2),
}


def small_png(image: Image.Image, path: Path) -> Path:
    """`image` at SIZE, in at most 256 colours (a chart has a few: the file stays small)."""
    shrunk = image.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    shrunk.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def deck_pdf(deck: Path, work: Path) -> Path:
    """The deck as a PDF, by LibreOffice headless with a profile of its own (one already open
    in the user's session would take the job and ignore `--headless`)."""
    profile = (work / "lo-profile").resolve().as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(work), str(deck)],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    return work / deck.with_suffix(".pdf").name


def page_png(pdf: Path, page: int, path: Path, work: Path) -> Path:
    """One page of `pdf` (1-based) as a small PNG at `path`."""
    stem = work / f"page-{pdf.stem}-{page}"
    subprocess.run(
        ["pdftoppm", "-png", "-singlefile", "-f", str(page), "-l", str(page),
         "-scale-to-x", str(SIZE[0] * 2), "-scale-to-y", str(SIZE[1] * 2), str(pdf), str(stem)],
        check=True,
    )  # fmt: skip
    with Image.open(stem.with_suffix(".png")) as image:
        return small_png(image, path)


def make(docs: Path, work: Path, domains: int) -> list[Path]:
    """Every picture of the README into `docs`, from a demo run in `work`."""
    for tool in ("soffice", "pdftoppm"):
        if not shutil.which(tool):
            raise SystemExit(f"docs_pictures: {tool} is missing (run scripts/bootstrap)")
    demo = run_demo(work, domains=domains, lang="en", say=lambda line: print(line, file=sys.stderr))
    latest = demo.summaries[-1].folder
    write_report(latest, work / "report-ja", lang="ja", formats=("png",), pptx=True)
    docs.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (folder, stem) in CHARTS.items():
        with Image.open(work / folder / CHARTS_DIR / f"{stem}.png") as image:
            written.append(small_png(image, docs / f"{name}.png"))
    pdfs: dict[str, Path] = {}
    for name, (folder, page) in PAGES.items():
        if folder not in pdfs:
            rendered = work / f"rendered-{folder}"
            rendered.mkdir(exist_ok=True)
            pdfs[folder] = deck_pdf(work / folder / DECK, rendered)
        written.append(page_png(pdfs[folder], page, docs / f"{name}.png", work))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "docs")
    parser.add_argument("--domains", type=int, default=2000, help="lab size (the demo's)")
    parser.add_argument("--keep", type=Path, help="run the demo here and keep it")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        written = make(args.out, args.keep, args.domains)
    else:
        with tempfile.TemporaryDirectory(prefix="docs-pictures-") as work:
            written = make(args.out, Path(work), args.domains)
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()

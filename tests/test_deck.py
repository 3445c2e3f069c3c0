"""`survey report --pptx` and `survey trend --pptx`: the deck read back with python-pptx (slides,
titles, facts, pictures, sizes), and rendered by LibreOffice where it is installed: every page
shows its own chart, and every word LibreOffice sets lies on the page, off the pictures, and over
no word of another text box."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from chart_data import NAMING as HOSTILE_NAMING
from chart_data import write_hostile
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from snapshot_factory import SAMPLE, later_sample, write_snapshot

from survey.cli.main import main
from survey.report.deck import DECK, DECK_TEXT, SLIDES_DIR
from survey.report.slides import HEIGHT, WIDTH
from survey.report.texts import TITLES
from survey.report.write import write_report

EMU_PER_PT = 12_700
CHART_LINK = re.compile(r"\]\(charts/([^)]+)\.png\)")


def survey(*args: str) -> None:
    with mock.patch.object(sys, "argv", ["survey", *args]):
        try:
            main()
        except SystemExit as done:
            assert done.code in (0, None), done.code


@pytest.fixture(scope="module")
def report_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deck")
    folder = write_snapshot(root / "snapshots", "2026-01", SAMPLE)
    survey("report", str(folder), "--out", str(root / "report"), "--top", "3", "--pptx")
    return root / "report"


@pytest.fixture(scope="module")
def trend_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trend-deck")
    write_snapshot(root / "snapshots", "2026-01", SAMPLE)
    write_snapshot(root / "snapshots", "2026-02", later_sample())
    survey("trend", str(root / "snapshots"), "--out", str(root / "trend"), "--lang", "ja",
           "--pptx", "--source", "ISP X の送信ドメイン")  # fmt: skip
    return root / "trend"


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-deck")
    folder = write_hostile(root / "snapshots")
    out = root / "report"
    write_report(folder, out, "ja", 5, ("png",), naming=HOSTILE_NAMING, pptx=True)
    return out


def texts(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


def pictures(slide) -> list:
    return [shape for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]


def chart_stems(out: Path) -> list[str]:
    """The charts of report.md, in its order: the deck shows them in the same one."""
    return list(dict.fromkeys(CHART_LINK.findall((out / "report.md").read_text(encoding="utf-8"))))


def test_the_report_deck_reads_back(report_out: Path) -> None:
    deck = Presentation(str(report_out / DECK))
    assert (deck.slide_width, deck.slide_height) == (WIDTH, HEIGHT)
    slides = list(deck.slides)
    stems = chart_stems(report_out)
    assert len(stems) == 42 and len(slides) == 2 + len(stems)  # 21 tables by both units
    title, facts = texts(slides[0])
    assert title == DECK_TEXT["en"]["title"] and not pictures(slides[0])
    assert "snapshot 2026-01" in facts and "12 domains" in facts and "2026-01-01" in facts
    summary = texts(slides[1])
    assert summary[0] == TITLES["types_stack"]["en"]
    assert "unresolved 2 (16.7% of domains" in summary[1] and "snapshot 2026-01" in summary[1]
    assert summary[2].startswith("Source: DNS scan by dmarc-survey 0.1.0 of domains.csv")
    (picture,) = pictures(slides[1])
    assert picture.image.blob == (report_out / SLIDES_DIR / "summary.png").read_bytes()
    for slide, stem in zip(slides[2:], stems, strict=True):
        title, line, footer = texts(slide)
        assert title.endswith(" · by domains" if stem.endswith("_domains") else " · by mail volume")
        assert "n = " in line and "unresolved" in line and "snapshot 2026-01" in line, stem
        assert "Source: DNS scan by dmarc-survey" in footer, stem
        (picture,) = pictures(slide)
        assert picture.image.blob == (report_out / SLIDES_DIR / f"{stem}.png").read_bytes()
        assert abs(picture.width * 9 - picture.height * 16) <= 16
        assert picture.left >= 0 and picture.left + picture.width <= WIDTH
        assert picture.top >= 0 and picture.top + picture.height <= HEIGHT
        boxes = [shape for shape in slide.shapes if shape.has_text_frame]
        assert not any(overlaps(box, picture) for box in boxes), stem


def overlaps(one, other) -> bool:
    return min(one.left + one.width, other.left + other.width) > max(one.left, other.left) and min(
        one.top + one.height, other.top + other.height
    ) > max(one.top, other.top)


def test_chart_slides_carry_the_charts_notes(report_out: Path) -> None:
    slides = list(Presentation(str(report_out / DECK)).slides)
    stems = chart_stems(report_out)
    footers = {stem: texts(slide)[2] for stem, slide in zip(stems, slides[2:], strict=True)}
    assert "shares may sum past 100%" in footers["rua_vendors_domains"]
    assert "An example record each" in footers["dmarc_problems_volume"]
    assert "shares may sum past 100%" not in footers["types_domains"]


def test_the_trend_deck_is_in_japanese(trend_out: Path) -> None:
    slides = list(Presentation(str(trend_out / DECK)).slides)
    trend_charts = [p for p in (trend_out / "charts").glob("*.png")]
    assert len(slides) == 2 + len(trend_charts)  # title, summary, counts and every trend chart
    title, facts = texts(slides[0])
    assert title == DECK_TEXT["ja"]["title"] and facts.startswith("2 時点 (2026-01 – 2026-02)")
    assert texts(slides[2])[0] == TITLES["domain_counts"]["ja"]
    for slide in slides[1:]:
        assert texts(slide)[-1].endswith("出典: ISP X の送信ドメイン")
        assert len(pictures(slide)) == 1
        for shape in slide.shapes:
            if shape.has_text_frame:
                assert 'typeface="IPAexGothic"' in shape.text_frame._txBody.xml


def test_a_report_without_pptx_writes_no_deck(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path / "snapshots", "2026-01", SAMPLE)
    write_report(folder, tmp_path / "out", formats=("png",), naming=HOSTILE_NAMING)
    assert not (tmp_path / "out" / DECK).exists()
    assert not (tmp_path / "out" / SLIDES_DIR).exists()


# -- rendered by LibreOffice ------------------------------------------------------------------

needs_libreoffice = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("soffice", "pdftoppm", "pdftotext")),
    reason="LibreOffice (libreoffice-impress) or poppler-utils is not installed",
)


def render(deck: Path, out: Path) -> tuple[Path, list[Path]]:
    """The deck as a PDF (LibreOffice, headless) and as one PNG a page (pdftoppm)."""
    profile = (out / "lo-profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(out), str(deck)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    pdf = out / deck.with_suffix(".pdf").name
    subprocess.run(["pdftoppm", "-png", "-r", "48", str(pdf), str(out / "page")], check=True)
    return pdf, sorted(out.glob("page-*.png"))


def region(page: Path, picture) -> np.ndarray:
    """The part of a rendered page where `picture` is placed, as RGB values 0..1."""
    with Image.open(page) as image:
        scale = image.width / WIDTH
        box = [round(v * scale) for v in (picture.left, picture.top,
               picture.left + picture.width, picture.top + picture.height)]  # fmt: skip
        return np.asarray(image.convert("RGB").crop(box), dtype=float) / 255


def shrunk(blob: bytes, size: tuple[int, int]) -> np.ndarray:
    from io import BytesIO

    with Image.open(BytesIO(blob)) as image:
        return np.asarray(image.convert("RGB").resize(size, Image.LANCZOS), dtype=float) / 255


def assert_every_page_shows_its_chart(deck: Path, pages: list[Path]) -> None:
    slides = list(Presentation(str(deck)).slides)
    assert len(pages) == len(slides)
    assert not pictures(slides[0])
    charts = [pictures(slide)[0] for slide in slides[1:]]
    blobs = [chart.image.blob for chart in charts]
    known: dict[tuple[int, int], list[np.ndarray]] = {}  # every chart decoded once a size
    for number, (page, picture) in enumerate(zip(pages[1:], charts, strict=True), start=2):
        shown = region(page, picture)
        size = (shown.shape[1], shown.shape[0])
        if size not in known:
            known[size] = [shrunk(blob, size) for blob in blobs]
        differences = [float(np.abs(shown - chart).mean()) for chart in known[size]]
        own = differences[number - 2]
        assert own < 0.06, (page.name, own)  # the page shows this chart (JPEG in the PDF) …
        assert own <= min(differences), (page.name, differences)  # … and no other as well
        assert shown.std() > 0.05, page.name  # and the chart is not blank


def words(pdf: Path) -> list[list[tuple[str, int, tuple[float, ...]]]]:
    """Per page: every word LibreOffice set, with its text block and box (points)."""
    xhtml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], check=True,
                           capture_output=True, text=True).stdout  # fmt: skip
    space = {"x": "http://www.w3.org/1999/xhtml"}
    pages = []
    for page in ET.fromstring(xhtml).iterfind(".//x:page", space):
        found = []
        for block_number, block in enumerate(page.iterfind(".//x:block", space)):
            for word in block.iterfind(".//x:word", space):
                box = tuple(float(word.get(k, 0)) for k in ("xMin", "yMin", "xMax", "yMax"))
                found.append((word.text or "", block_number, box))
        pages.append(found)
    return pages


def assert_text_stays_in_its_place(deck: Path, pdf: Path) -> None:
    slides = list(Presentation(str(deck)).slides)
    width, height = WIDTH / EMU_PER_PT, HEIGHT / EMU_PER_PT
    for number, (slide, placed) in enumerate(zip(slides, words(pdf), strict=True), start=1):
        assert placed, number
        frames = [
            tuple(v / EMU_PER_PT for v in (p.left, p.top, p.left + p.width, p.top + p.height))
            for p in pictures(slide)
        ]
        for text, _, (x0, y0, x1, y1) in placed:
            assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, (number, text)
            for f in frames:
                assert min(x1, f[2]) - max(x0, f[0]) <= 0.5 or min(y1, f[3]) - max(y0, f[1]) <= 0.5
        for (one, a, p), (other, b, q) in itertools.combinations(placed, 2):
            apart = (
                min(p[2], q[2]) - max(p[0], q[0]) <= 0.5 or min(p[3], q[3]) - max(p[1], q[1]) <= 0.5
            )
            assert a == b or apart, (number, one, other)


@needs_libreoffice
def test_libreoffice_renders_the_japanese_deck_of_hostile_tables(
    hostile_out: Path, tmp_path: Path
) -> None:
    pdf, pages = render(hostile_out / DECK, tmp_path)
    assert_every_page_shows_its_chart(hostile_out / DECK, pages)
    assert_text_stays_in_its_place(hostile_out / DECK, pdf)


@needs_libreoffice
def test_libreoffice_renders_the_trend_deck(trend_out: Path, tmp_path: Path) -> None:
    pdf, pages = render(trend_out / DECK, tmp_path)
    assert_every_page_shows_its_chart(trend_out / DECK, pages)
    assert_text_stays_in_its_place(trend_out / DECK, pdf)

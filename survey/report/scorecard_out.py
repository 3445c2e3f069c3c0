"""The scorecard written out: CSV and Markdown tables, and a 1920×1080 grid (PNG and SVG) a slide
can take as it is: one row a domain, groups as bands, a mark and a word in every cell.

Grids of more domains than fit one slide legibly are split into pages (`scorecard-2.png`, …).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from survey.report import canvas
from survey.report.labels import Lang
from survey.report.scorecard import (
    CHECKS,
    COLOURS,
    Cell,
    CellState,
    ScoredDomain,
    read_watchlist,
    score,
    snapshot_rows,
)
from survey.report.write import check_lang, md_escape, open_for_report

ROWS_PER_PAGE = 20
HEADINGS = {
    "en": {
        "dmarc": "DMARC 7489",
        "dmarc9989": "DMARC 9989",
        "spf": "SPF",
        "dkim": "DKIM",
        "dnssec": "DNSSEC",
        "domain": "Domain",
    },
    "ja": {
        "dmarc": "DMARC 7489",
        "dmarc9989": "DMARC 9989",
        "spf": "SPF",
        "dkim": "DKIM",
        "dnssec": "DNSSEC",
        "domain": "ドメイン",
    },
}
LEGEND = {
    "en": "✔ in place   ! weak   ✘ absent   ? unresolved   – not scanned   n/a not measured",
    "ja": "✔ 対応済み   ! 不十分   ✘ なし   ? 未解決   – 未調査   n/a 未測定",
}
#: The cells' words on the grid, by language (the CSV keeps the English ones).
CELL_WORDS = {
    "ja": {
        "none": "なし",
        "unresolved": "未解決",
        "invalid": "誤り",
        "no all": "all なし",
        "no listed selector": "既知セレクタなし",
        "secure": "署名検証済み",
        "unsigned": "署名なし",
        "bogus": "検証失敗",
    }
}
TEXT_ON = {CellState.OK: "white", CellState.BAD: "white"}  # dark fills take white text
BAND = ("#FFFFFF", "#F3F6FA")


def write_tables(scored: Sequence[ScoredDomain], out: Path) -> tuple[Path, Path]:
    """scorecard.csv (states, marks and words per check) and scorecard.md."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "scorecard.csv", out / "scorecard.md"
    header = ["domain", "group", "name"]
    header += [f"{check}_{part}" for check in CHECKS for part in ("state", "mark", "text")]
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for item in scored:
            entry, cells = item.entry, item.cells
            cell_values = [
                v for c in CHECKS for v in (cells[c].state, cells[c].mark, cells[c].text)
            ]
            writer.writerow([entry.domain, _safe(entry.group), _safe(entry.name), *cell_values])
    lines = ["| group | domain | " + " | ".join(HEADINGS["en"][c] for c in CHECKS) + " |"]
    lines.append("| --- | --- |" + " --- |" * len(CHECKS))
    for item in scored:
        shown = " | ".join(f"{item.cells[c].mark} {md_escape(item.cells[c].text)}" for c in CHECKS)
        lines.append(f"| {md_escape(item.entry.group)} | {md_escape(item.entry.name)} | {shown} |")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path


def _safe(text: str) -> str:
    """No spreadsheet formula out of a watch list's own words."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def draw_pages(
    scored: Sequence[ScoredDomain], title: str, subtitle: str, lang: Lang
) -> list[Figure]:
    pages = [scored[i : i + ROWS_PER_PAGE] for i in range(0, len(scored), ROWS_PER_PAGE)]
    return [_page(page, title, subtitle, lang) for page in pages or [[]]]


def _page(rows: Sequence[ScoredDomain], title: str, subtitle: str, lang: Lang) -> Figure:
    with matplotlib.rc_context(canvas.chart_rc(lang)):
        figure = canvas.new_figure()
        canvas.header(figure, title, subtitle)
        axes = figure.add_axes((0.03, 0.09, 0.94, 0.72))
        axes.set_xlim(0, 1)
        axes.set_ylim(len(rows) + 0.6, -0.3)
        axes.axis("off")
        _grid(axes, rows, lang)
        figure.text(0.03, 0.035, LEGEND[lang], fontsize=16, color=canvas.MUTED, va="center")
    return figure


#: Column edges: the domain column, then one column per check.
_EDGES = (0.0, 0.30, 0.44, 0.58, 0.72, 0.86, 1.0)


def _grid(ax: Axes, rows: Sequence[ScoredDomain], lang: Lang) -> None:
    words = HEADINGS[lang]
    size = max(11.0, min(20.0, 400 / max(len(rows), 1)))
    for index, name in enumerate(("domain", *CHECKS)):
        ax.text(_EDGES[index] + 0.01, 0.05, words[name], fontsize=size + 2, va="center")
    groups = list(dict.fromkeys(item.entry.group for item in rows))
    for row, item in enumerate(rows, start=1):
        band = BAND[groups.index(item.entry.group) % 2]
        ax.add_patch(Rectangle((0, row - 0.5), 1, 1, color=band, zorder=0))
        label = f"{item.entry.group} · {item.entry.name}" if item.entry.group else item.entry.name
        ax.text(0.01, row, _fit(label, 40), fontsize=size, va="center")
        for column, check in enumerate(CHECKS, start=1):
            _cell(ax, row, column, item.cells[check], size, lang)


def _cell(ax: Axes, row: int, column: int, cell: Cell, size: float, lang: Lang) -> None:
    state = cell.state
    left, right = _EDGES[column], _EDGES[column + 1]
    patch = Rectangle((left + 0.004, row - 0.42), right - left - 0.008, 0.84, color=COLOURS[state])
    ax.add_patch(patch)
    words = CELL_WORDS.get(lang, {})
    text = f"{cell.mark} {_fit(words.get(cell.text, cell.text), 16)}".strip()
    colour = TEXT_ON.get(state, canvas.INK)
    ax.text(left + 0.01, row, text, fontsize=size, va="center", color=colour)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_grid(figures: Sequence[Figure], out: Path, formats: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for number, figure in enumerate(figures, start=1):
        stem = out / ("scorecard" if number == 1 else f"scorecard-{number}")
        files += canvas.save(figure, stem, formats)
    return files


def write_scorecard(
    scored: Sequence[ScoredDomain],
    out: Path,
    label: str,
    lang: Lang = "en",
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """The tables and the grid of a scored watch list into `out`; the files written."""
    title = TITLES[lang]
    counts = Counter(cell.state for item in scored for cell in item.cells.values())
    subtitle = SUBTITLES[lang].format(
        domains=len(scored), label=label, unresolved=counts[CellState.UNRESOLVED]
    )
    tables = write_tables(scored, out)
    return [*tables, *write_grid(draw_pages(scored, title, subtitle, lang), out, formats)]


TITLES = {"en": "Watch list: mail authentication", "ja": "ウォッチリスト: 送信ドメイン認証"}
SUBTITLES = {
    "en": "{domains} domains · snapshot {label} · unresolved cells {unresolved}",
    "ja": "{domains} ドメイン · スナップショット {label} · 未解決のセル {unresolved}",
}


#: Checks domains on the spot (the CLI passes `survey.scan.check.check_domains` with the
#: resolver of `--nameserver`): domain names in, snapshot-like rows out.
Checker = Callable[[list[str]], list[dict[str, Any]]]


def make_scorecard(
    watchlist: Path,
    snapshot_folder: Path,
    out: Path,
    lang: str = "en",
    formats: Sequence[str] = ("png", "svg"),
    check: Checker | None = None,
) -> list[Path]:
    """Score a watch list against a snapshot; domains the snapshot lacks are checked on the
    spot when `check` is given, else shown as not scanned."""
    language = check_lang(lang)
    entries = read_watchlist(watchlist)
    snapshot = open_for_report(snapshot_folder, allow_incomplete=True)
    rows: dict[str, Any] = snapshot_rows(snapshot, [e.domain for e in entries])
    missing = [e.domain for e in entries if e.domain not in rows]
    if missing and check is not None:
        rows.update((row["domain"], row) for row in check(missing))
    return write_scorecard(score(entries, rows), out, snapshot.label, language, formats)

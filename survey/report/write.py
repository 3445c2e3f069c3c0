"""Report folders: the charts (PNG/SVG), the tables as CSV, and one `report.md` showing each
chart above its table.

    <out>/report.md
    <out>/charts/<table>_<by>.png|svg     (by = domains | volume)
    <out>/tables/<table>_<by>.csv         (problem tables: `label` beside `code`)
    <out>/summary/types_stack.png|svg     (types A–F as stacked 100% bars, both units)
    <out>/report.pptx, <out>/slides/*.png (with `pptx=True`: the deck, `survey.report.deck`)

A trend folder has the same layout, with trend tables (`<name>_<by>`) and `domain_counts`, and
the stacked types of its first and last snapshot.
Record text from the Internet is untrusted: CSV cells that a spreadsheet would run as a formula
are defused, and Markdown cells are escaped so a record cannot break the table or inject HTML.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import pandas as pd

from survey.errors import InputError, SnapshotError
from survey.report import charts
from survey.report.charts import Lang
from survey.report.deck import report_deck, trend_deck
from survey.report.dkim_trend import dkim_trend_tables
from survey.report.labels import CODES_OF_TABLE, category_label
from survey.report.spf_tables import snapshot_spf_tables
from survey.report.stack import Column, stack_columns, trend_columns
from survey.report.tallies import Options, part_files, tally_snapshot
from survey.report.tally import By, HostNaming, TopBy
from survey.report.trend import Trend, trend
from survey.store.snapshot import Snapshot

FORMATS = ("png", "svg", "pdf")
CHARTS_DIR = "charts"
SUMMARY_DIR = "summary"  # figures of several tables: charts/ keeps one chart a table
TABLES_DIR = "tables"
REPORT = "report.md"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MD_ESCAPES = {
    "\\": "\\\\",
    "|": "\\|",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "`": "&#96;",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "\n": "\\n",
    "\r": "\\r",
    "\t": " ",
}
_MD = str.maketrans(
    {
        **{chr(c): f"\\x{c:02x}" for c in (*range(32), *range(127, 160))},
        **_MD_ESCAPES,
    }
)
MAX_CELL = 160

#: Words of report.md, per language.
MD_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "report": "DMARC and SPF survey: snapshot {label}",
        "trend": "DMARC and SPF survey: trend {first} – {last}",
        "domains": "By domains",
        "volume": "By mail volume",
        "no_volume": "The input had no message volumes: the tables by mail volume are left out.",
        "category": "category",
        "count": "count",
        "share": "share",
        "csv": "table as CSV",
        "notes": "Notes",
        "n_line": "n = {n:,}, unresolved {unresolved:,} (left out of the shares), of {total:,}.",
    },
    "ja": {
        "report": "DMARC・SPF 調査: スナップショット {label}",
        "trend": "DMARC・SPF 調査: 推移 {first} – {last}",
        "domains": "ドメイン数",
        "volume": "流通数 (mail volume)",
        "no_volume": "入力に流通数がないため、流通数の表は省略しました。",
        "category": "区分",
        "count": "件数",
        "share": "割合",
        "csv": "CSV の表",
        "notes": "注記",
        "n_line": "n = {n:,}、未解決 {unresolved:,} (割合から除外)、全体 {total:,}。",
    },
}


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet would read as a formula gets a leading `'` (OWASP CSV
    injection); everything else is left as it is."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def md_escape(value: object, limit: int = MAX_CELL) -> str:
    """Text safe in a Markdown table cell: no `|`, HTML, code spans, newlines, control chars."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.translate(_MD)


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    table.map(csv_safe).to_csv(path, index=False)
    return path


def with_labels(table: pd.DataFrame, name: str, lang: Lang) -> pd.DataFrame:
    """A problem table with each code's label beside it (column `label`, after `code`), as the
    chart shows it; other tables as they are."""
    if name not in CODES_OF_TABLE or "code" not in table.columns:
        return table
    labelled = table.copy()
    words = [category_label(name, str(code), lang) for code in table["code"]]
    labelled.insert(list(table.columns).index("code") + 1, "label", words)
    return labelled


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InputError(f"chart format(s) {unknown or '(none)'}: choose from {', '.join(FORMATS)}")
    return chosen


def check_lang(lang: str) -> Lang:
    if lang not in charts.LANGS:
        raise InputError(f"language {lang!r}: choose from {', '.join(charts.LANGS)}")
    return lang


def default_naming() -> HostNaming:
    """Vendor and registrable domain of report hosts, from the project's vendor table and PSL."""
    from survey.verdict.psl import current, organizational_domain
    from survey.verdict.vendors import DEFAULT_TABLE, VendorTable

    table = VendorTable.load()
    key = f"vendors {_sha256(DEFAULT_TABLE)}, psl {_sha256(current().path)}"
    return HostNaming(table.vendor_of, organizational_domain, table.vendor_by_suffix, key)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def open_for_report(folder: Path | str, allow_incomplete: bool = False) -> Snapshot:
    snapshot = Snapshot.open(folder)
    if not snapshot.is_complete and not allow_incomplete:
        raise SnapshotError(
            f"snapshot {snapshot.label} has status {snapshot.status!r}, not 'complete': its "
            "numbers would cover part of the list; allow incomplete snapshots to report it anyway"
        )
    return snapshot


def _md_cell(column: str, value: Any, name: str, lang: Lang, first: bool) -> str:
    if pd.isna(value):
        return ""
    if column == "share":
        return f"{float(value):.1%}"
    if pd.api.types.is_number(value):
        return f"{int(cast(float, value)):,}"
    text = charts.category_label(name, str(value), lang) if first else str(value)
    if first and name in CODES_OF_TABLE:
        text = f"{text} ({value})"  # the code, to find it in the README and the CSV
    return md_escape(text)


def md_table(table: pd.DataFrame, name: str, lang: Lang) -> list[str]:
    """`table` as Markdown lines; the first column shows category labels."""
    words = MD_TEXT[lang]
    columns = list(table.columns)
    header = [words.get(c, c) if c in ("count", "share") else c for c in columns]
    header[0] = words["category"] if name in charts.FAMILY else columns[0]
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |"]
    lines.append("|" + "|".join(" ---: " if c in ("count", "share") else " --- " for c in columns))
    lines[-1] += "|"
    for row in table.itertuples(index=False):
        cells = [
            _md_cell(c, v, name, lang, i == 0)
            for i, (c, v) in enumerate(zip(columns, row, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _section(
    out: Path,
    name: str,
    by: By,
    table: pd.DataFrame,
    label: str,
    lang: Lang,
    formats: Sequence[str],
) -> list[str]:
    """Write the chart and CSV of one table; its report.md lines."""
    stem = f"{name}_{by}"
    figure = charts.draw_table(name, table, label, lang)
    files = charts.save(figure, out / CHARTS_DIR / stem, formats)
    csv = write_csv(with_labels(table, name, lang), out / TABLES_DIR / f"{stem}.csv")
    block = _chart_block(out, files, charts.title_of(name, table.attrs, lang), lang, [csv])
    n_line = MD_TEXT[lang]["n_line"].format(**{str(k): v for k, v in table.attrs.items()})
    return [*block, n_line, "", *md_table(table, name, lang), ""]


def _chart_block(
    out: Path, files: Sequence[Path], title: str, lang: Lang, csvs: Sequence[Path]
) -> list[str]:
    shown = next((f for f in files if f.suffix in (".png", ".svg")), None)
    links = [f"[{f.suffix[1:].upper()}]({f.relative_to(out).as_posix()})" for f in files]
    links += [f"[{MD_TEXT[lang]['csv']}]({csv.relative_to(out).as_posix()})" for csv in csvs]
    image = [f"![{md_escape(title)}]({shown.relative_to(out).as_posix()})", ""] if shown else []
    return [*image, " · ".join(links), ""]


def _prepare(out_dir: Path | str) -> Path:
    out = Path(out_dir)
    (out / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
    (out / TABLES_DIR).mkdir(parents=True, exist_ok=True)
    return out


def _snapshot_facts(snapshot: Snapshot, rows: int) -> list[str]:
    manifest = snapshot.manifest
    source = manifest.get("input") or {}
    facts = {
        "label": snapshot.label,
        "status": snapshot.status,
        "domains": f"{rows:,}",
        "input": source.get("path"),
        "input sha256": source.get("sha256"),
        "started": manifest.get("started_at"),
        "finished": manifest.get("finished_at"),
        "tool version": manifest.get("tool_version"),
        "public suffix list": manifest.get("psl_date"),
    }
    return [f"- {key}: {md_escape(value)}" for key, value in facts.items() if value is not None]


def write_report(
    snapshot_folder: Path | str,
    out_dir: Path | str,
    lang: str = "en",
    top: int | None = None,
    formats: Iterable[str] = ("png", "svg"),
    allow_incomplete: bool = False,
    *,
    top_by: TopBy | None = None,
    naming: HostNaming | None = None,
    pptx: bool = False,
    source: str | None = None,
) -> Path:
    """Write the report of one snapshot into `out_dir`; returns the path of its report.md.

    `top`: also the type table of the first `top` domains, by rank (`top_by`, default rank when
    the input has ranks, else volume). `naming`: how to name report hosts for the `other`
    destinations tables (default: the project's vendor table and public suffix list). `pptx`:
    also the slide deck `report.pptx`, its footers naming `source` (default: the scan)."""
    language, chosen = check_lang(lang), _check_formats(formats)
    snapshot = open_for_report(snapshot_folder, allow_incomplete)
    options = Options(top, top_by, naming or default_naming())
    tallied = tally_snapshot(snapshot, options)
    by_mode = tallied.tables
    out = _prepare(out_dir)
    words = MD_TEXT[language]
    lines = [f"# {md_escape(words['report'].format(label=snapshot.label))}", ""]
    lines += [*_snapshot_facts(snapshot, tallied.rows), ""]
    if "volume" not in by_mode:
        lines += [f"> {words['no_volume']}", ""]
    spf = snapshot_spf_tables(part_files(snapshot), tuple(by_mode))  # issue 17: own module
    for name in (*by_mode["domains"], *spf["domains"]):
        tables_of = by_mode if name in by_mode["domains"] else spf
        lines += [
            f"## {md_escape(charts.title_of(name, tables_of['domains'][name].attrs, language))}"
        ]
        for by, tables in tables_of.items():
            lines += ["", f"### {words[by]}", ""]
            lines += _section(out, name, by, tables[name], snapshot.label, language, chosen)
        if name == "types":
            columns = stack_columns({by: t["types"] for by, t in by_mode.items()})
            lines += _stack_section(out, columns, snapshot.label, language, chosen)
    lines += _dkim_sections(snapshot, out, language, chosen)
    md = _write_md(out, lines)
    if pptx:
        shown = {by: {**by_mode[by], **spf[by]} for by in by_mode}  # report.md's order
        report_deck(out, snapshot, shown, language, source)
    return md


def _stack_section(
    out: Path,
    columns: Sequence[Column],
    label: str,
    lang: Lang,
    formats: Sequence[str],
) -> list[str]:
    """The types A–F as stacked 100% bars, linked to the types tables they show."""
    (out / SUMMARY_DIR).mkdir(exist_ok=True)
    figure = charts.draw_types_stack(columns, label, lang)
    files = charts.save(figure, out / SUMMARY_DIR / "types_stack", formats)
    units = dict.fromkeys(column.by for column in columns)
    csvs = [out / TABLES_DIR / f"types_{by}.csv" for by in units]
    title = charts.TITLES["types_stack"][lang]
    return [f"## {md_escape(title)}", "", *_chart_block(out, files, title, lang, csvs)]


def _dkim_sections(snapshot: Snapshot, out: Path, lang: Lang, formats: Sequence[str]) -> list[str]:
    """The DKIM tables (survey/report/dkim.py), when the scan asked about DKIM."""
    from survey.report import dkim

    by_mode = dkim.snapshot_tables(snapshot)
    lines: list[str] = []
    for name in by_mode.get("domains", {}):
        lines += [f"## {md_escape(charts.title_of(name, by_mode['domains'][name].attrs, lang))}"]
        for by, tables in by_mode.items():
            lines += ["", f"### {MD_TEXT[lang][by]}", ""]
            lines += _section(out, name, by, tables[name], snapshot.label, lang, formats)
    return lines


def _write_md(out: Path, lines: Sequence[str]) -> Path:
    path = out / REPORT
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def md_pivot(table: pd.DataFrame, name: str, lang: Lang) -> list[str]:
    """A trend table as Markdown: one row per category, one column per snapshot, `share (count)`,
    and the `n` of each point as the first row."""
    key = table.columns[1]
    labels = list(dict.fromkeys(table["label"]))
    n_row = table.drop_duplicates("label").set_index("label")["n"]
    cells = table.assign(
        cell=[f"{s:.1%} ({int(c):,})" for s, c in zip(table["share"], table["count"], strict=True)]
    )
    grid = cells.pivot(index=key, columns="label", values="cell").reindex(
        list(dict.fromkeys(table[key])))[labels]  # fmt: skip
    lines = ["| " + " | ".join([MD_TEXT[lang]["category"], *map(md_escape, labels)]) + " |"]
    lines.append("| --- |" + " ---: |" * len(labels))
    lines.append("| n | " + " | ".join(f"{int(n_row[label]):,}" for label in labels) + " |")
    for value, row in grid.iterrows():
        label = md_escape(charts.category_label(name, str(value), lang))
        lines.append(f"| {label} | " + " | ".join(str(c) for c in row) + " |")
    return lines


def _trend_section(
    out: Path, key: str, table: pd.DataFrame, lang: Lang, formats: Sequence[str]
) -> list[str]:
    name, by = key.rsplit("_", 1)
    figure = charts.draw_trend(name, table, lang)
    files = charts.save(figure, out / CHARTS_DIR / key, formats)
    csv = write_csv(table, out / TABLES_DIR / f"{key}.csv")
    title = charts.title_of(name, table.attrs, lang)
    heading = f"## {md_escape(title)}: {MD_TEXT[lang][by]}"
    block = _chart_block(out, files, title, lang, [csv])
    return [heading, "", *block, *md_pivot(table, name, lang), ""]


def _counts_section(
    out: Path, table: pd.DataFrame, lang: Lang, formats: Sequence[str]
) -> list[str]:
    files = charts.save(
        charts.draw_counts(table, lang), out / CHARTS_DIR / "domain_counts", formats
    )
    csv = write_csv(table, out / TABLES_DIR / "domain_counts.csv")
    title = charts.TITLES["domain_counts"][lang]
    body = md_table(table.astype(object).where(table.notna(), None), "domain_counts", lang)
    return [f"## {md_escape(title)}", "", *_chart_block(out, files, title, lang, [csv]), *body, ""]


def write_trend(
    snapshots_folder: Path | str,
    out_dir: Path | str,
    lang: str = "en",
    formats: Iterable[str] = ("png", "svg"),
    *,
    pptx: bool = False,
    source: str | None = None,
) -> Path:
    """Write the trend over every complete snapshot under `snapshots_folder` into `out_dir`;
    returns the path of its report.md. Skipped snapshots are noted on stderr and in report.md.
    `pptx`: also the slide deck `report.pptx`, its footers naming `source`."""
    language, chosen = check_lang(lang), _check_formats(formats)
    result: Trend = trend(snapshots_folder)
    dkim_tables, dkim_notes = dkim_trend_tables(snapshots_folder, result.labels)
    result = Trend(result.labels, {**result.tables, **dkim_tables}, (*result.notes, *dkim_notes))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    out = _prepare(out_dir)
    words = MD_TEXT[language]
    title = words["trend"].format(first=result.labels[0], last=result.labels[-1])
    lines = [f"# {md_escape(title)}", ""]
    if result.notes:
        lines += [f"## {words['notes']}", "", *(f"- {md_escape(n)}" for n in result.notes), ""]
    lines += _counts_section(out, result.tables["domain_counts"], language, chosen)
    span = f"{result.labels[0]} – {result.labels[-1]}"
    columns = trend_columns(result.tables, result.labels)
    lines += _stack_section(out, columns, span, language, chosen)
    for key, table in result.tables.items():
        if key != "domain_counts" and not table.empty:
            lines += _trend_section(out, key, table, language, chosen)
    md = _write_md(out, lines)
    if pptx:
        trend_deck(out, result, language, source)
    return md

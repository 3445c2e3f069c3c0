"""Flow report and flow trend folders, laid out as the DNS ones (`survey.report.write`):

    <out>/report.md
    <out>/charts/<table>_<by>.png|svg     (by = volume | domains)
    <out>/tables/<table>_<by>.csv

`survey report` and `survey trend` tell the kinds apart by the manifest's schema version:
`write_any_report` and `write_any_trends` send a flow snapshot here and anything else to the
DNS report. A folder holding both kinds gets both trends: the DNS trend in `<out>`, the flow
trend in `<out>/flows`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from survey.errors import InputError, SnapshotError
from survey.report import charts, flow_charts
from survey.report.charts import Lang
from survey.report.flow_tables import FLOW_ORDER, Tables
from survey.report.flow_tallies import tally_flows
from survey.report.flow_trend import flow_trend, is_flow_folder, split_kinds
from survey.report.tally import By
from survey.report.write import (
    CHARTS_DIR,
    TABLES_DIR,
    _chart_block,
    _check_formats,
    _prepare,
    _write_md,
    check_lang,
    md_escape,
    md_pivot,
    md_table,
    open_for_report,
    write_csv,
    write_report,
    write_trend,
)
from survey.store.flows import FlowSnapshot
from survey.store.snapshot import Snapshot

FLOWS_SUBDIR = "flows"
UNITS: tuple[By, ...] = ("volume", "domains")

#: Words of a flow report.md, per language.
FLOW_MD: dict[str, dict[str, str]] = {
    "en": {
        "report": "Mail flows: flow snapshot {label}",
        "trend": "Mail flows: trend {first} – {last}",
        "volume": "By messages (mail volume)",
        "domains": "By From domains",
        "notes": "Notes",
        "n_line": "n = {n:,} {unit} of {total:,}.",
        "other_month": "DNS snapshot {dns} was scanned in {month}, outside the flows' period "
        "({months}): policies may have changed in between.",
        "no_period": "The flows have no report period: the DNS snapshot's month cannot be "
        "compared with theirs.",
    },
    "ja": {
        "report": "メールフロー: フロースナップショット {label}",
        "trend": "メールフロー: 推移 {first} – {last}",
        "volume": "流通数",
        "domains": "From ドメイン数",
        "notes": "注記",
        "n_line": "n = {n:,} {unit} (全体 {total:,})。",
        "other_month": "DNS スナップショット {dns} の調査月 {month} はフローの期間 ({months}) "
        "の外です。その間にポリシーが変わった可能性があります。",
        "no_period": "フローにレポート期間がないため、DNS スナップショットの月と比べられません。",
    },
}


def is_flow_snapshot(folder: Path | str) -> bool:
    return is_flow_folder(Path(folder))


def open_flows_for_report(folder: Path | str, allow_incomplete: bool = False) -> FlowSnapshot:
    snapshot = FlowSnapshot.open(folder)
    if not snapshot.is_complete and not allow_incomplete:
        raise SnapshotError(
            f"flow snapshot {snapshot.label} has status {snapshot.status!r}, not 'complete': its "
            "numbers would cover part of the inputs; allow incomplete snapshots to report it anyway"
        )
    return snapshot


def _months(begin: str, end: str) -> list[str]:
    """Every month (`YYYY-MM`, UTC) from `begin` to `end`."""
    first, last = (dt.datetime.fromisoformat(t).astimezone(dt.UTC) for t in (begin, end))
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_notes(attrs: dict[Any, Any], dns: Snapshot, lang: Lang) -> list[str]:
    """A note when the DNS snapshot was not scanned in a month of the flows' period."""
    words = FLOW_MD[lang]
    if not attrs.get("period_begin") or not attrs.get("period_end"):
        return [words["no_period"]]
    months = _months(str(attrs["period_begin"]), str(attrs["period_end"]))
    scanned = str(dns.manifest.get("finished_at") or dns.manifest.get("started_at") or "")[:7]
    if scanned in months:
        return []
    shown = months[0] if len(months) == 1 else f"{months[0]} – {months[-1]}"
    return [words["other_month"].format(dns=dns.label, month=scanned or "?", months=shown)]


def _facts(snapshot: FlowSnapshot, tables: Tables, dns: Snapshot | None) -> list[str]:
    manifest, attrs = snapshot.manifest, tables["volume"]["flow_dkim"].attrs
    counts = manifest.get("accounting") or {}
    facts = {
        "label": snapshot.label,
        "status": snapshot.status,
        "period": _period(attrs),
        "messages": f"{int(attrs['total']):,}",
        "From domains": f"{int(tables['domains']['flow_dkim'].attrs['total']):,}",
        "records": _count(counts.get("rows")),
        "documents": _count(counts.get("documents")),
        "rejects": ", ".join(f"{k} {v:,}" for k, v in (manifest.get("rejects") or {}).items()),
        "started": manifest.get("started_at"),
        "finished": manifest.get("finished_at"),
        "tool version": manifest.get("tool_version"),
        "public suffix list": manifest.get("psl_date"),
        "signer table": manifest.get("signers"),
        "DNS snapshot": None if dns is None else f"{dns.label} ({dns.manifest.get('finished_at')})",
    }
    return [f"- {key}: {md_escape(value)}" for key, value in facts.items() if value]


def _period(attrs: dict[Any, Any]) -> str:
    if attrs.get("period_begin") and attrs.get("period_end"):
        return f"{attrs['period_begin']} – {attrs['period_end']}"
    return "none (no aggregate report among the inputs)"


def _count(value: object) -> str | None:
    return f"{value:,}" if isinstance(value, int) else None


def _section(
    out: Path,
    name: str,
    by: By,
    table: pd.DataFrame,
    label: str,
    lang: Lang,
    formats: Sequence[str],
) -> list[str]:
    """Write the chart and CSV of one flow table; its report.md lines."""
    stem = f"{name}_{by}"
    figure = flow_charts.draw_flow_table(name, table, label, lang)
    files = charts.save(figure, out / CHARTS_DIR / stem, formats)
    csv = write_csv(table, out / TABLES_DIR / f"{stem}.csv")
    block = _chart_block(out, files, charts.title_of(name, table.attrs, lang), lang, csv)
    unit = flow_charts.FLOW_TEXT[lang][f"unit_{by}"]
    n_line = FLOW_MD[lang]["n_line"].format(
        n=table.attrs["n"], unit=unit, total=table.attrs["total"]
    )
    n_line = " ".join([n_line, *flow_charts.notes(name, table, lang)])
    return [*block, md_escape(n_line, limit=1000), "", *md_table(table, name, lang), ""]


def write_flow_report(
    folder: Path | str,
    out_dir: Path | str,
    lang: str = "en",
    formats: Iterable[str] = ("png", "svg"),
    allow_incomplete: bool = False,
    *,
    dns: Path | str | None = None,
) -> Path:
    """Write the report of one flow snapshot into `out_dir` (joined with the complete DNS
    snapshot `dns` when given); returns the path of its report.md."""
    language, chosen = check_lang(lang), _check_formats(formats)
    snapshot = open_flows_for_report(folder, allow_incomplete)
    dns_snapshot = None if dns is None else open_for_report(dns)
    tables = tally_flows(snapshot, dns_snapshot).tables
    out, words = _prepare(out_dir), FLOW_MD[language]
    lines = [f"# {md_escape(words['report'].format(label=snapshot.label))}", ""]
    lines += [*_facts(snapshot, tables, dns_snapshot), ""]
    if dns_snapshot is not None:
        lines += _notes_block(month_notes(tables["volume"]["flow_dkim"].attrs, dns_snapshot,
                                          language), language)  # fmt: skip
    for name in FLOW_ORDER:
        shown = [by for by in UNITS if name in tables[by]]
        for index, by in enumerate(shown):
            if index == 0:
                title = charts.title_of(name, tables[by][name].attrs, language)
                lines += [f"## {md_escape(title)}"]
            lines += ["", f"### {words[by]}", ""]
            lines += _section(out, name, by, tables[by][name], snapshot.label, language, chosen)
    return _write_md(out, lines)


def _notes_block(notes: Sequence[str], lang: Lang) -> list[str]:
    """The notes, on stderr and as a section of report.md."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not notes:
        return []
    return [f"## {FLOW_MD[lang]['notes']}", "", *(f"- {md_escape(n)}" for n in notes), ""]


def _trend_section(
    out: Path, key: str, table: pd.DataFrame, lang: Lang, formats: Sequence[str]
) -> list[str]:
    name, by = key.rsplit("_", 1)
    files = charts.save(
        flow_charts.draw_flow_trend(name, table, lang), out / CHARTS_DIR / key, formats
    )
    csv = write_csv(table, out / TABLES_DIR / f"{key}.csv")
    title = charts.title_of(name, table.attrs, lang)
    heading = f"## {md_escape(title)}: {FLOW_MD[lang][by]}"
    return [
        heading,
        "",
        *_chart_block(out, files, title, lang, csv),
        *md_pivot(table, name, lang),
        "",
    ]


def _counts_section(
    out: Path, table: pd.DataFrame, lang: Lang, formats: Sequence[str]
) -> list[str]:
    files = charts.save(
        flow_charts.draw_flow_counts(table, lang), out / CHARTS_DIR / "flow_counts", formats
    )
    csv = write_csv(table, out / TABLES_DIR / "flow_counts.csv")
    title = charts.TITLES["flow_counts"][lang]
    body = md_table(table.astype(object).where(table.notna(), None), "flow_counts", lang)
    return [f"## {md_escape(title)}", "", *_chart_block(out, files, title, lang, csv), *body, ""]


def write_flow_trend(
    folders: Sequence[Path],
    where: Path | str,
    out_dir: Path | str,
    lang: str = "en",
    formats: Iterable[str] = ("png", "svg"),
) -> Path:
    """Write the trend over the complete flow snapshots among `folders` into `out_dir`."""
    language, chosen = check_lang(lang), _check_formats(formats)
    result = flow_trend(folders, where)
    out, words = _prepare(out_dir), FLOW_MD[language]
    title = words["trend"].format(first=result.labels[0], last=result.labels[-1])
    lines = [f"# {md_escape(title)}", "", *_notes_block(result.notes, language)]
    lines += _counts_section(out, result.tables["flow_counts"], language, chosen)
    for key, table in result.tables.items():
        if key != "flow_counts" and not table.empty:
            lines += _trend_section(out, key, table, language, chosen)
    return _write_md(out, lines)


def write_any_report(
    folder: Path | str,
    out_dir: Path | str,
    lang: str = "en",
    top: int | None = None,
    formats: Iterable[str] = ("png", "svg"),
    allow_incomplete: bool = False,
    *,
    dns: Path | str | None = None,
) -> Path:
    """The report of a DNS snapshot or of a flow snapshot, by what `folder` holds."""
    if is_flow_snapshot(folder):
        if top is not None:
            raise InputError("--top applies to DNS snapshots; a flow report keeps its top signers")
        return write_flow_report(folder, out_dir, lang, formats, allow_incomplete, dns=dns)
    if dns is not None:
        raise InputError(
            f"--dns joins a flow snapshot with a DNS snapshot; {folder} is no flow snapshot"
        )
    return write_report(folder, out_dir, lang, top, formats, allow_incomplete)


def write_any_trends(
    snapshots: Path | str,
    out_dir: Path | str,
    lang: str = "en",
    formats: Iterable[str] = ("png", "svg"),
) -> list[Path]:
    """The trends of the snapshots under `snapshots`: of the DNS snapshots in `out_dir`, of
    the flow snapshots in `out_dir` when there are only those, else in `out_dir/flows`."""
    flows, others = split_kinds(snapshots)
    if not flows:
        return [write_trend(snapshots, out_dir, lang, formats)]
    flow_out = Path(out_dir) / FLOWS_SUBDIR if others else Path(out_dir)
    written = [write_flow_trend(flows, snapshots, flow_out, lang, formats)]
    if others:
        try:
            written.insert(0, write_trend(snapshots, out_dir, lang, formats))
        except SnapshotError as exc:  # the flow trend stands; say why there is no DNS one
            print(f"note: no DNS trend: {exc}", file=sys.stderr)
    return written

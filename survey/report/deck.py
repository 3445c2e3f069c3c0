"""The slide deck of a report or a trend: `report.pptx` beside report.md.

Every chart is drawn again bare (no title, subtitle or notes on the picture: the slide carries
them as text a speaker can edit) into `slides/`, then `slides.write_deck` lays the deck out: a
title slide, the summary (types A–F as stacked 100% bars by domains and by mail volume), and one
slide per chart with its title, `n`, the unresolved share and the snapshot label, and as footer
the chart's notes and the source of the numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from survey import __version__
from survey.report import charts
from survey.report.canvas import save
from survey.report.labels import Lang
from survey.report.slides import ChartSlide, Deck, write_deck
from survey.report.stack import stack_columns, stack_subtitle, trend_columns
from survey.report.tally import By
from survey.report.texts import TITLES, UI_TEXT, counts_subtitle, subtitle, title_of
from survey.report.trend import Trend
from survey.report.trend_charts import trend_notes_of
from survey.store.snapshot import Snapshot

DECK = "report.pptx"
SLIDES_DIR = "slides"

#: Words of the deck, per language.
DECK_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "DMARC and SPF: how the Internet authenticates mail",
        "report": "snapshot {label} · {domains:,} domains · scanned {date}",
        "trend": "{count} snapshots, {first} – {last} · made {date}",
        "source": "Source: {source}",
        "scan": "DNS scan by dmarc-survey {version} of {input}, finished {date}",
        "scans": "DNS scans by dmarc-survey {version}, snapshots {first} – {last}",
    },
    "ja": {
        "title": "DMARC・SPF: インターネットのメール認証の現状",
        "report": "スナップショット {label} · {domains:,} ドメイン · 調査 {date}",
        "trend": "{count} 時点 ({first} – {last}) · 作成 {date}",
        "source": "出典: {source}",
        "scan": "dmarc-survey {version} による {input} の DNS 調査 (完了 {date})",
        "scans": "dmarc-survey {version} による DNS 調査 (スナップショット {first} – {last})",
    },
}

Tables = Mapping[By, Mapping[str, pd.DataFrame]]  # by → table name → table


def _picture(figure: Figure, out: Path, stem: str) -> Path:
    (out / SLIDES_DIR).mkdir(parents=True, exist_ok=True)
    (path,) = save(figure, out / SLIDES_DIR / stem, ("png",))
    return path


def _footer(notes: Sequence[str], source: str) -> str:
    return " ".join([*notes, source])


def slide_title(title: str, by: str, lang: Lang) -> str:
    """A chart's title with its unit: two slides show each table."""
    return f"{title} · {UI_TEXT[lang][f'by_{by}']}"


def _date(stamp: object) -> str:
    return str(stamp)[:10] if stamp else "-"


def report_source(snapshot: Snapshot, lang: Lang, source: str | None) -> str:
    """`Source: …`: the given text, or the scan's tool, input file and date from the manifest."""
    words = DECK_TEXT[lang]
    if source:
        return words["source"].format(source=source)
    manifest = snapshot.manifest
    scan = words["scan"].format(
        version=manifest.get("tool_version") or __version__,
        input=Path(str((manifest.get("input") or {}).get("path") or "-")).name,
        date=_date(manifest.get("finished_at") or manifest.get("started_at")),
    )
    return words["source"].format(source=scan)


def report_deck(
    out: Path, snapshot: Snapshot, tables: Tables, lang: Lang, source: str | None = None
) -> Path:
    """Write `out/report.pptx` of one snapshot's tables (`by` → name → table)."""
    label, note = snapshot.label, report_source(snapshot, lang, source)
    columns = stack_columns({by: named["types"] for by, named in tables.items()})
    summary = _picture(charts.draw_types_stack(columns, label, lang, bare=True), out, "summary")
    slides = []
    for name in tables["domains"]:
        for by, named in tables.items():
            table = named[name]
            figure = charts.draw_table(name, table, label, lang, bare=True)
            slides.append(
                ChartSlide(
                    slide_title(title_of(name, table.attrs, lang), by, lang),
                    subtitle(table.attrs, label, lang),
                    _picture(figure, out, f"{name}_{by}"),
                    _footer(charts.table_notes(name, table, lang), note),
                )
            )
    facts = DECK_TEXT[lang]["report"].format(
        label=label, domains=int(tables["domains"]["types"].attrs["total"]),
        date=_date(snapshot.manifest.get("finished_at") or snapshot.manifest.get("started_at")),
    )  # fmt: skip
    deck = Deck(
        DECK_TEXT[lang]["title"], facts, TITLES["types_stack"][lang], [summary], slides, lang,
        stack_subtitle(columns, label, lang), note,
    )  # fmt: skip
    return write_deck(deck, out / DECK)


def trend_source(result: Trend, lang: Lang, source: str | None) -> str:
    words = DECK_TEXT[lang]
    scans = words["scans"].format(
        version=__version__, first=result.labels[0], last=result.labels[-1]
    )
    return words["source"].format(source=source or scans)


def trend_deck(out: Path, result: Trend, lang: Lang, source: str | None = None) -> Path:
    """Write `out/report.pptx` of a trend: domains per snapshot, then every trend table."""
    note = trend_source(result, lang, source)
    span = f"{result.labels[0]} – {result.labels[-1]}"
    columns = trend_columns(result.tables, result.labels)
    summary = _picture(charts.draw_types_stack(columns, span, lang, bare=True), out, "summary")
    counts = result.tables["domain_counts"]
    slides = [
        ChartSlide(
            TITLES["domain_counts"][lang],
            counts_subtitle(counts, lang),
            _picture(charts.draw_counts(counts, lang, bare=True), out, "domain_counts"),
            _footer(trend_notes_of("domain_counts", counts, lang, bare=True), note),
        )
    ]
    for key, table in result.tables.items():
        if key == "domain_counts" or table.empty:
            continue
        name, by = key.rsplit("_", 1)
        slides.append(
            ChartSlide(
                slide_title(title_of(name, table.attrs, lang), by, lang),
                charts.trend_subtitle(table, lang),
                _picture(charts.draw_trend(name, table, lang, bare=True), out, key),
                _footer(trend_notes_of(name, table, lang, bare=True), note),
            )
        )
    facts = DECK_TEXT[lang]["trend"].format(
        count=len(result.labels), first=result.labels[0], last=result.labels[-1],
        date=dt.datetime.now(dt.UTC).date().isoformat(),
    )  # fmt: skip
    deck = Deck(
        DECK_TEXT[lang]["title"], facts, TITLES["types_stack"][lang], [summary], slides, lang,
        stack_subtitle(columns, span, lang), note,
    )  # fmt: skip
    return write_deck(deck, out / DECK)

"""The flow report's charts: the DNS report's bar and trend charts (`survey.report.charts`:
1920×1080, fixed colour per category, en and ja) with the flow facts under the title — `n`, the
reports' period, the flow snapshot — and a footer saying what was left out of the shares and
why a table's shares may sum past 100%. Draws; computes nothing.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from survey.report import charts
from survey.report.charts import MAX_BARS, Attrs, Lang

SEP = "   ·   "

#: Words of the flow charts and report, per language.
FLOW_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "unit_volume": "messages",
        "unit_domains": "From domains",
        "period": "period {begin} – {end}",
        "no_period": "no report period (flow tables only)",
        "undated": "{share:.1%} of messages from flow tables, without a report period.",
        "flows": "flows {label}",
        "flows_range": "flows {first} – {last}",
        "left_flow_disposition": "No disposition reported: {amount}, left out.",
        "left_flow_dmarc_reported": "No receiver verdict: {amount}, left out.",
        "left_flow_policy": "DNS lookup failed: {amount}, left out.",
        "not_in_dns": "Not in DNS snapshot {dns}: {domains:,} From domains, {amount}; "
        "left out, not no policy.",
        "not_in_dns_domains": "Not in DNS snapshot {dns}: {amount}; left out, not no policy.",
        "several": "A From domain counts in each class it has mail in.",
        "third_party": "Shares of third-party-signed mail; self: own organization, "
        "unaligned under adkim=s.",
        "more_signers": "Top {shown} of {rows} signers shown; the table keeps {kept}.",
        "trend_volume": "share of messages, n under each label",
        "trend_domains": "share of From domains, n under each label",
        "counts_n": "n = {n:,} messages, {domains:,} From domains ({label})",
    },
    "ja": {
        "unit_volume": "通",
        "unit_domains": "From ドメイン",
        "period": "期間 {begin} – {end}",
        "no_period": "レポート期間なし (フロー表のみ)",
        "undated": "流通数の {share:.1%} はフロー表 (レポート期間なし)。",
        "flows": "フロー {label}",
        "flows_range": "フロー {first} – {last}",
        "left_flow_disposition": "処置の報告なし {amount} は除外。",
        "left_flow_dmarc_reported": "受信側の判定なし {amount} は除外。",
        "left_flow_policy": "DNS の解決失敗 {amount} は除外。",
        "not_in_dns": "DNS {dns} にない From ドメイン {domains:,} ({amount}): "
        "割合から除外 (ポリシーなしではない)。",
        "not_in_dns_domains": "DNS {dns} にない {amount}: 割合から除外 (ポリシーなしではない)。",
        "several": "From ドメインは区分ごとに数える (合計 100% 超もあり)。",
        "third_party": "第三者署名の流通数に占める割合。self: 自組織 (adkim=s で不一致)。",
        "more_signers": "上位 {shown} 件を表示 (表に {kept} 件、全 {rows} 件)。",
        "trend_volume": "流通数の割合 (n は各時点の下)",
        "trend_domains": "From ドメイン数の割合 (n は各時点の下)",
        "counts_n": "n = {n:,} 通、From ドメイン {domains:,} ({label})",
    },
}
#: How wide a footer line may be, in cells (a wide East Asian character takes two): what one
#: line of the footer's type holds across a 1920-pixel chart.
FOOTER_CELLS = 118
#: Tables whose From-domain view counts a From domain once in each of its classes.
SEVERAL = frozenset({"flow_dkim", "flow_spf", "flow_dmarc", "flow_disposition", "flow_services"})


def _day(iso: object) -> str:
    return dt.datetime.fromisoformat(str(iso)).astimezone(dt.UTC).date().isoformat()


def period_text(attrs: Attrs, lang: Lang) -> str:
    """The reports' period as dates (UTC)."""
    words = FLOW_TEXT[lang]
    if not attrs.get("period_begin") or not attrs.get("period_end"):
        return words["no_period"]
    return words["period"].format(begin=_day(attrs["period_begin"]), end=_day(attrs["period_end"]))


def _amount(value: int, attrs: Attrs, lang: Lang) -> str:
    """`value` in the table's unit, with its share of the total."""
    by = str(attrs.get("by", "volume"))
    total = int(attrs.get("total") or 0)
    share = f" ({value / total:.1%})" if total else ""
    return f"{value:,} {FLOW_TEXT[lang]['unit_' + by]}{share}"


def facts(attrs: Attrs, label: str, lang: Lang) -> str:
    """The line under a flow chart's title: n, the period, the flow snapshot."""
    words = FLOW_TEXT[lang]
    unit = words[f"unit_{attrs.get('by', 'volume')}"]
    n = charts.UI_TEXT[lang]["n"].format(n=int(attrs.get("n") or 0), unit=unit)
    return SEP.join([n, period_text(attrs, lang), words["flows"].format(label=label)])


def cells(text: str) -> int:
    """The width of `text` in cells: two for a wide East Asian character, else one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def notes(name: str, table: pd.DataFrame, lang: Lang) -> list[str]:
    """Every note of a flow chart, the most needed first."""
    words, attrs = FLOW_TEXT[lang], table.attrs
    found = []
    left = int(attrs.get("unresolved") or 0)
    if left:
        found.append(words[f"left_{name}"].format(amount=_amount(left, attrs, lang)))
    if name == "flow_policy" and attrs.get("not_in_dns_domains"):
        amount = _amount(int(attrs.get("not_in_dns") or 0), attrs, lang)
        domains = int(attrs["not_in_dns_domains"])
        key = "not_in_dns" if attrs.get("by") == "volume" else "not_in_dns_domains"
        found.append(words[key].format(dns=attrs["dns_label"], domains=domains, amount=amount))
    if name in SEVERAL and attrs.get("by") == "domains":
        found.append(words["several"])
    if name in ("flow_services", "flow_signers") and attrs.get("by") == "volume":
        found.append(words["third_party"])
    if name == "flow_signers" and len(table) > MAX_BARS:
        more = {"shown": MAX_BARS, "rows": int(attrs.get("signers") or 0), "kept": len(table)}
        found.append(words["more_signers"].format(**more))
    undated, total = int(attrs.get("undated") or 0), int(attrs.get("total") or 0)
    if undated and total and attrs.get("by") == "volume" and not left:
        found.append(words["undated"].format(share=undated / total))
    return found


def note(name: str, table: pd.DataFrame, lang: Lang) -> str:
    """The footer: one line of notes, the most needed first, as many as fit."""
    line = ""
    for text in notes(name, table, lang):
        joined = f"{line}  {text}" if line else text
        if line and cells(joined) > FOOTER_CELLS:
            break
        line = joined
    return line


def draw_flow_table(name: str, table: pd.DataFrame, label: str, lang: Lang = "en") -> Figure:
    """One flow table as the DNS report draws its tables, with the flow facts and notes."""
    return charts.draw_table(
        name,
        table,
        label,
        lang,
        facts=facts(table.attrs, label, lang),
        note=note(name, table, lang),
    )


def trend_facts(table: pd.DataFrame, lang: Lang) -> str:
    words = FLOW_TEXT[lang]
    labels = list(dict.fromkeys(table["label"])) if not table.empty else ["-"]
    by = str(table.attrs.get("by", "volume"))
    return SEP.join(
        [words[f"trend_{by}"], words["flows_range"].format(first=labels[0], last=labels[-1])]
    )


def draw_flow_trend(name: str, table: pd.DataFrame, lang: Lang = "en") -> Figure:
    """A flow trend table as lines of share over time."""
    by = table.attrs.get("by")
    several = FLOW_TEXT[lang]["several"] if name in SEVERAL and by == "domains" else ""
    return charts.draw_trend(name, table, lang, facts=trend_facts(table, lang), note=several)


def draw_flow_counts(table: pd.DataFrame, lang: Lang = "en") -> Figure:
    """Messages per flow snapshot, as bars with their counts."""
    with matplotlib.rc_context(charts.chart_rc(lang)):
        figure = charts.new_figure()
        figure.subplots_adjust(left=0.1, right=0.96, top=0.77, bottom=0.12)
        axes = figure.add_subplot()
        charts.header(figure, charts.TITLES["flow_counts"][lang], _counts_facts(table, lang))
        labels = [str(label) for label in table["label"]]
        messages = [int(m) for m in table["messages"]]
        axes.bar(labels, messages, color=charts.COLOURS["flow_dkim:third_party"])
        for x, value in enumerate(messages):
            axes.text(x, value, f"{value:,}", ha="center", va="bottom")
        axes.set_ylim(0, max([*messages, 1]) * 1.12)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(FLOW_TEXT[lang]["unit_volume"])
    return figure


def _counts_facts(table: pd.DataFrame, lang: Lang) -> str:
    words = FLOW_TEXT[lang]
    if table.empty:
        return words["flows_range"].format(first="-", last="-")
    last = table.iloc[-1]
    latest = words["counts_n"].format(
        n=int(last["messages"]), domains=int(last["from_domains"]), label=last["label"]
    )
    labels: Sequence[str] = list(table["label"])
    return SEP.join([latest, words["flows_range"].format(first=labels[0], last=labels[-1])])

"""Slide-ready charts of the tally and trend tables. Draws; computes nothing.

Every figure is 16:9 (16 x 9 inches at 120 dpi: 1920 x 1080 PNG, and SVG), with large type, its
title, `n = …`, the unresolved share and the snapshot label. Colours are fixed per category (type
A-F, policy, status, report type, `all` qualifier) so that one thing has one colour on every slide.
`lang="ja"` labels everything in Japanese with IPAexGothic, the font matplotlib-fontja bundles.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import matplotlib
import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib)
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

matplotlib.use("Agg")

Lang = Literal["en", "ja"]
#: A table's `attrs` (pandas types them loosely): n, by, unresolved, total, top…
Attrs = Mapping[Hashable, Any]
LANGS: tuple[Lang, ...] = ("en", "ja")
SIZE = (16.0, 9.0)
DPI = 120
MAX_BARS = 12
MAX_LINES = 8
FONTS: dict[str, list[str]] = {
    "en": ["DejaVu Sans"],
    "ja": ["IPAexGothic", "DejaVu Sans"],
}
GREY = "#BDBDBD"
INK = "#212121"
MUTED = "#616161"

#: One colour per category, the same on every chart.
COLOURS: dict[str, str] = {
    # type A-F
    "type:A": "#2E7D32",
    "type:B": "#F9A825",
    "type:C": "#81C784",
    "type:D": "#EF6C00",
    "type:E": "#1E88E5",
    "type:F": "#9E9E9E",
    # record status
    "status:valid": "#2E7D32",
    "status:invalid": "#C62828",
    "status:multiple": "#880E4F",
    "status:absent": "#9E9E9E",
    # policies
    "policy:none": "#78909C",
    "policy:quarantine": "#F57C00",
    "policy:quarantine_pct": "#FFCC80",
    "policy:reject": "#6A1B9A",
    "policy:reject_pct": "#CE93D8",
    "policy:invalid": "#C62828",
    "policy:missing": GREY,
    "policy:unset": GREY,
    "policy:no_policy": GREY,
    # report types
    "report:A": "#00695C",
    "report:B": "#26A69A",
    "report:C": "#80CBC4",
    "report:D": GREY,
    # SPF all
    "all:-all": "#2E7D32",
    "all:~all": "#7CB342",
    "all:?all": "#FDD835",
    "all:+all": "#C62828",
    "all:redirect": "#1E88E5",
    "all:none": GREY,
    # vendors and problems
    "vendor:self": "#5E35B1",
    "vendor:other": "#9E9E9E",
    "vendor:*": "#1E88E5",
    "problem:error": "#C62828",
    "problem:warning": "#F9A825",
    # DKIM (issue 13)
    "dkim:found": "#2E7D32",
    "dkim:none_found": "#F9A825",
    "dkim:absent": "#9E9E9E",
    "dkim_state:revoked": "#6D4C41",
    "dkim_state:testing": "#F9A825",
    # mail flows (Okabe-Ito hues: told apart with any colour vision)
    "flow_dkim:self": "#009E73",
    "flow_dkim:third_party": "#0072B2",
    "flow_dkim:fail": "#D55E00",
    "flow_dkim:unsigned": GREY,
    "flow_spf:aligned": "#009E73",
    "flow_spf:unaligned": "#56B4E9",
    "flow_spf:fail": "#D55E00",
    "flow_spf:none": GREY,
    "flow_dmarc:pass": "#009E73",
    "flow_dmarc:fail": "#D55E00",
    "flow_verdicts:both_pass": "#009E73",
    "flow_verdicts:only_ours_pass": "#E69F00",
    "flow_verdicts:only_receiver_pass": "#56B4E9",
    "flow_verdicts:both_fail": "#D55E00",
    "flow_disposition:none": "#78909C",
    "flow_disposition:pass": "#009E73",
    "flow_disposition:quarantine": "#E69F00",
    "flow_disposition:reject": "#CC79A7",
}

#: Table name → colour family of its categories.
FAMILY: dict[str, str] = {
    "types": "type",
    "types_top": "type",
    "dmarc_status": "status",
    "spf_status": "status",
    "policy_p": "policy",
    "policy_effective": "policy",
    "policy_sp": "policy",
    "report_types": "report",
    "spf_all": "all",
    "spf_lookups": "spf_lookups",
    "spf_results": "spf_result",
    "spf_senders": "vendor",
    "rua_vendors": "vendor",
    "ruf_vendors": "vendor",
    "rua_other": "vendor",
    "ruf_other": "vendor",
    "dmarc_problems": "problem",
    "spf_problems": "problem",
    "dkim_adoption": "dkim",
    "dkim_key_states": "dkim_state",
    "dkim_providers": "vendor",
    "dkim_problems": "problem",
    "dkim_by_type": "dkim_type",
    "flow_dkim": "flow_dkim",
    "flow_spf": "flow_spf",
    "flow_dmarc": "flow_dmarc",
    "flow_dmarc_reported": "flow_verdicts",
    "flow_disposition": "flow_disposition",
    "flow_services": "vendor",
    "flow_signers": "vendor",
    "flow_policy": "policy",
}
VENDOR_TABLES = frozenset({"rua_vendors", "ruf_vendors", "rua_other", "ruf_other"})
TREND_PALETTE = ("#1E88E5", "#E53935", "#43A047", "#FB8C00", "#8E24AA", "#00ACC1", "#6D4C41")

#: Words around the numbers, per language.
UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "unit_domains": "domains",
        "unit_volume": "messages (mail volume)",
        "n": "n = {n:,} {unit}",
        "n_short": "n = {n:,}",
        "trend_domains": "share of domains, n per point under each label",
        "trend_volume": "share of mail volume, n (messages) under each label",
        "unresolved_domains": "unresolved {domains:,} ({share:.1%})",
        "unresolved_volume": "unresolved domains {domains:,} ({share:.1%} of volume)",
        "snapshot": "snapshot {label}",
        "snapshots": "{first} – {last}",
        "share_domains": "share of domains",
        "share_volume": "share of mail volume",
        "no_data": "no domains in this table",
        "sum_past_100": "A domain naming several destinations counts for each: "
        "shares may sum past 100%.",
        "more_rows": "Top {shown} of {rows} rows shown; all rows in the table.",
        "problem_colours": "Red: error (the record is invalid). Amber: warning.",
        "resolved": "resolved",
        "unresolved": "unresolved",
    },
    "ja": {
        "unit_domains": "ドメイン (ドメイン数)",
        "unit_volume": "通 (流通数)",
        "n": "n = {n:,} {unit}",
        "n_short": "n = {n:,}",
        "trend_domains": "ドメイン数の割合 (n は各時点の下)",
        "trend_volume": "流通数の割合 (n は各時点の下)",
        "unresolved_domains": "未解決 {domains:,} ({share:.1%})",
        "unresolved_volume": "未解決 {domains:,} ドメイン (流通数の {share:.1%})",
        "snapshot": "スナップショット {label}",
        "snapshots": "{first} – {last}",
        "share_domains": "ドメイン数の割合",
        "share_volume": "流通数の割合",
        "no_data": "この表に該当するドメインはありません",
        "sum_past_100": "複数の送信先を指定するドメインはそれぞれに数えるため、"
        "合計が 100% を超えることがあります。",
        "more_rows": "上位 {shown} 行を表示 (全 {rows} 行は表に掲載)。",
        "problem_colours": "赤: 誤り (レコードは無効)。黄: 警告。",
        "resolved": "解決済み",
        "unresolved": "未解決",
    },
}

#: Chart titles (`{top}` and `{top_by}` filled in for the top-N cut).
TITLES: dict[str, dict[str, str]] = {
    "types": {"en": "Domain types A–F", "ja": "ドメインの分類 A–F"},
    "types_top": {
        "en": "Domain types A–F, top {top:,} by {top_by}",
        "ja": "上位 {top:,} ドメインの分類 A–F ({top_by}順)",
    },
    "dmarc_status": {"en": "DMARC record", "ja": "DMARC レコード"},
    "spf_status": {"en": "SPF record", "ja": "SPF レコード"},
    "policy_p": {
        "en": "DMARC policy p (domains with a DMARC record)",
        "ja": "DMARC ポリシー p (DMARC レコードあり)",
    },
    "policy_effective": {
        "en": "Policy a receiver applies (RFC 7489 §6.6.3)",
        "ja": "受信側が適用するポリシー (RFC 7489 §6.6.3)",
    },
    "policy_sp": {
        "en": "Subdomain policy sp (domains with a DMARC record)",
        "ja": "サブドメインポリシー sp (DMARC レコードあり)",
    },
    "report_types": {
        "en": "Aggregate (rua) and failure (ruf) reports requested",
        "ja": "集約レポート (rua)・失敗レポート (ruf) の指定",
    },
    "rua_vendors": {"en": "Aggregate report (rua) destinations", "ja": "rua レポートの送信先"},
    "ruf_vendors": {"en": "Failure report (ruf) destinations", "ja": "ruf レポートの送信先"},
    "rua_other": {
        "en": "rua destinations of no known vendor",
        "ja": "既知ベンダー以外の rua 送信先",
    },
    "ruf_other": {
        "en": "ruf destinations of no known vendor",
        "ja": "既知ベンダー以外の ruf 送信先",
    },
    "dmarc_problems": {"en": "DMARC record mistakes", "ja": "DMARC レコードの誤りと警告"},
    "spf_problems": {"en": "SPF record mistakes", "ja": "SPF レコードの誤りと警告"},
    "spf_all": {"en": "SPF all qualifier", "ja": "SPF の all 修飾子"},
    "domain_counts": {"en": "Domains per snapshot", "ja": "スナップショットごとのドメイン数"},
    "dkim_adoption": {
        "en": "DKIM keys in DNS (listed selectors)",
        "ja": "DNS 上の DKIM 鍵 (既知セレクタ)",
    },
    "dkim_key_types": {
        "en": "DKIM key types (domains with keys)",
        "ja": "DKIM 鍵の種類 (鍵ありドメイン)",
    },
    "dkim_rsa_bits": {"en": "DKIM RSA key sizes (bits)", "ja": "DKIM RSA 鍵長 (ビット)"},
    "dkim_key_states": {
        "en": "Revoked and testing DKIM keys",
        "ja": "失効・テスト中の DKIM 鍵",
    },
    "dkim_providers": {"en": "Who signs: DKIM providers", "ja": "DKIM 署名事業者"},
    "dkim_problems": {"en": "DKIM key record mistakes", "ja": "DKIM 鍵レコードの誤りと警告"},
    "dkim_by_type": {
        "en": "DMARC × SPF × DKIM: types A–F by DKIM keys",
        "ja": "DMARC × SPF × DKIM: 分類 A–F と DKIM 鍵",
    },
    "spf_lookups": {
        "en": "SPF: DNS lookups of the whole include tree (limit 10)",
        "ja": "SPF: include ツリー全体の DNS 参照回数 (上限 10)",
    },
    "spf_results": {
        "en": "SPF as a receiver evaluates it: result, or why permerror",
        "ja": "受信側の SPF 評価: 結果と permerror の理由",
    },
    "spf_senders": {
        "en": "Sending services authorized through SPF includes",
        "ja": "SPF の include で許可された送信サービス",
    },
    "flow_dkim": {
        "en": "DKIM: signed by the author's domain or a third party",
        "ja": "DKIM 署名: 自ドメイン・第三者・失敗・署名なし",
    },
    "flow_spf": {"en": "SPF of the MAIL FROM domain", "ja": "SPF (MAIL FROM ドメイン)"},
    "flow_dmarc": {"en": "DMARC pass rate", "ja": "DMARC 合格率"},
    "flow_dmarc_reported": {
        "en": "DMARC: our reading and the receivers' verdicts",
        "ja": "DMARC: 本調査の判定と受信側の判定",
    },
    "flow_disposition": {
        "en": "What receivers did (disposition)",
        "ja": "受信側の処置 (disposition)",
    },
    "flow_services": {"en": "Third-party signing services", "ja": "第三者署名のサービス"},
    "flow_signers": {
        "en": "Top third-party signers (d= organization)",
        "ja": "第三者署名の署名組織 (d=) 上位",
    },
    "flow_policy": {
        "en": "Mail by the From domain's DMARC policy (DNS)",
        "ja": "From ドメインの DMARC ポリシー別 (DNS)",
    },
    "flow_counts": {
        "en": "Messages per flow snapshot",
        "ja": "フロースナップショットごとの流通数",
    },
}
TOP_BY_TEXT = {
    "en": {"rank": "rank", "volume": "volume"},
    "ja": {"rank": "順位", "volume": "流通数"},
}
_TREND_SUFFIX = {"en": " over time", "ja": "の推移"}

_TYPES = {
    "A": ("A  DMARC valid + SPF", "A  DMARC あり(正常)・SPF あり"),
    "B": ("B  DMARC invalid + SPF", "B  DMARC あり(誤り)・SPF あり"),
    "C": ("C  DMARC valid, no SPF", "C  DMARC あり(正常)・SPF なし"),
    "D": ("D  DMARC invalid, no SPF", "D  DMARC あり(誤り)・SPF なし"),
    "E": ("E  no DMARC, SPF", "E  DMARC なし・SPF あり"),
    "F": ("F  neither", "F  DMARC なし・SPF なし"),
}
_STATUS = {
    "valid": ("valid", "あり(正常)"),
    "invalid": ("invalid", "あり(誤り)"),
    "multiple": ("several records (invalid)", "あり(複数・誤り)"),
    "absent": ("absent", "なし"),
}
_POLICY = {
    "none": ("none", "none (監視のみ)"),
    "quarantine": ("quarantine", "quarantine (隔離)"),
    "quarantine_pct": ("quarantine, pct < 100", "quarantine (pct < 100)"),
    "reject": ("reject", "reject (拒否)"),
    "reject_pct": ("reject, pct < 100", "reject (pct < 100)"),
    "invalid": ("invalid value (e.g. monitor)", "無効な値 (monitor など)"),
    "missing": ("no p / no record applies", "p なし・適用レコードなし"),
    "unset": ("not set (p applies)", "指定なし (p を適用)"),
    "no_policy": ("no policy applies", "適用ポリシーなし"),
}
_REPORT = {
    "A": ("A  rua + ruf", "A  rua・ruf 両方"),
    "B": ("B  rua only", "B  rua のみ"),
    "C": ("C  ruf only", "C  ruf のみ"),
    "D": ("D  neither", "D  どちらもなし"),
}
_ALL = {
    "redirect": ("redirect=", "redirect="),
    "none": ("no all, no redirect", "all・redirect なし"),
}
_VENDOR = {
    "self": ("self (own domain)", "自ドメイン (self)"),
    "other": ("other", "その他 (other)"),
    "none": ("no provider named", "事業者なし"),
}
_DKIM = {
    "found": ("keys found", "鍵あり"),
    "none_found": ("_domainkey, no listed selector", "_domainkey あり・既知セレクタなし"),
    "absent": ("no _domainkey (NXDOMAIN)", "_domainkey なし (NXDOMAIN)"),
}
_DKIM_STATE = {
    "revoked": ("revoked (empty p)", "失効 (p 空)"),
    "testing": ("testing (t=y)", "テスト中 (t=y)"),
}
#: `dkim_by_type` keys: a type A–F and a DKIM verdict, `A/found`.
_DKIM_TYPE = {
    f"{kind}/{status}": (f"{kind} · {words[0]}", f"{kind} · {words[1]}")
    for kind in _TYPES
    for status, words in _DKIM.items()
}
COLOURS.update({f"dkim_type:{key}": COLOURS[f"dkim:{key.split('/')[1]}"] for key in _DKIM_TYPE})
_SPF_RESULT = {
    "ok": ("ok: within the limits", "ok: 上限内"),
    "syntax": ("syntax error", "構文エラー"),
    "multiple_records": ("several SPF records", "SPF レコードが複数"),
    "too_many_lookups": ("over 10 DNS lookups", "DNS 参照が 10 回超"),
    "too_many_void_lookups": ("over 2 void lookups", "空の参照が 2 回超"),
    "include_loop": ("include loop", "include のループ"),
    "redirect_loop": ("redirect loop", "redirect のループ"),
    "include_no_spf": ("include of a name without SPF", "SPF のない名前を include"),
    "redirect_no_spf": ("redirect to a name without SPF", "SPF のない名前へ redirect"),
    "include_permerror": ("included record invalid", "include 先のレコードが無効"),
    "too_many_mx": ("mx of over 10 names", "mx の名前が 10 超"),
}
_SPF_LOOKUPS = {">10": ("over 10 (permerror)", "10 超 (permerror)")}

_FLOW_DKIM = {
    "self": ("self (author's domain)", "自ドメイン署名 (self)"),
    "third_party": ("third party", "第三者署名"),
    "fail": ("signature failed", "署名検証失敗"),
    "unsigned": ("unsigned", "署名なし"),
}
_FLOW_SPF = {
    "aligned": ("pass, aligned", "pass・アライン一致"),
    "unaligned": ("pass, not aligned", "pass・アライン不一致"),
    "fail": ("fail (or softfail, error…)", "fail (softfail・エラー等)"),
    "none": ("no SPF result", "SPF 結果なし"),
}
_FLOW_DMARC = {"pass": ("pass", "合格 (pass)"), "fail": ("fail", "不合格 (fail)")}
_FLOW_VERDICTS = {
    "both_pass": ("both pass", "双方 pass"),
    "only_ours_pass": ("pass by our reading only", "本調査のみ pass"),
    "only_receiver_pass": ("pass by the receiver only", "受信側のみ pass"),
    "both_fail": ("both fail", "双方 fail"),
}
_FLOW_DISPOSITION = {
    "none": ("none (delivered)", "none (配送)"),
    "pass": ("pass (RFC 9990)", "pass (RFC 9990)"),
    "quarantine": ("quarantine", "quarantine (隔離)"),
    "reject": ("reject", "reject (拒否)"),
}

#: Colour family → category key → (English, Japanese) label.
CATEGORY_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "type": _TYPES,
    "status": _STATUS,
    "policy": _POLICY,
    "report": _REPORT,
    "all": _ALL,
    "vendor": _VENDOR,
    "dkim": _DKIM,
    "dkim_state": _DKIM_STATE,
    "dkim_type": _DKIM_TYPE,
    "spf_result": _SPF_RESULT,
    "spf_lookups": _SPF_LOOKUPS,
    "flow_dkim": _FLOW_DKIM,
    "flow_spf": _FLOW_SPF,
    "flow_dmarc": _FLOW_DMARC,
    "flow_verdicts": _FLOW_VERDICTS,
    "flow_disposition": _FLOW_DISPOSITION,
}


def category_label(table_name: str, key: str, lang: Lang) -> str:
    """The label of category `key` (a type, a policy, a vendor name, a code …)."""
    texts = CATEGORY_TEXT.get(FAMILY.get(table_name, ""), {})
    pair = texts.get(key)
    return key if pair is None else pair[LANGS.index(lang)]


def title_of(name: str, attrs: Attrs, lang: Lang) -> str:
    """The chart title of table `name` (a trend table when `attrs` says so)."""
    top_by = TOP_BY_TEXT[lang].get(str(attrs.get("top_by", "rank")), "")
    title = TITLES[name][lang].format(top=int(attrs.get("top", 0) or 0), top_by=top_by)
    return title + _TREND_SUFFIX[lang] if attrs.get("trend") else title


def colour_of(table_name: str, key: str) -> str:
    """The fixed colour of category `key` in table `table_name`."""
    family = FAMILY.get(table_name, "vendor")
    return COLOURS.get(f"{family}:{key}", COLOURS["vendor:*"])


def _rc(lang: Lang) -> dict[Any, Any]:  # matplotlib types the keys as a Literal union
    return {
        "font.family": FONTS[lang],
        "font.size": 20,
        "axes.titlesize": 28,
        "svg.fonttype": "path",
        "svg.hashsalt": "dmarc-survey",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _new_figure() -> Figure:
    figure = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _header(figure: Figure, title: str, subtitle: str) -> None:
    # IPAexGothic has one weight only: ask for bold only where the font has it.
    weight = "bold" if matplotlib.rcParams["font.family"] == FONTS["en"] else "normal"
    figure.text(0.03, 0.93, title, fontsize=34, weight=weight, color=INK, va="center")
    figure.text(0.03, 0.865, subtitle, fontsize=21, color=MUTED, va="center")


def _footer(figure: Figure, note: str) -> None:
    if note:
        figure.text(0.03, 0.02, note, fontsize=18, color=MUTED, va="bottom")


def _unit(by: str, lang: Lang) -> str:
    return UI_TEXT[lang][f"unit_{by}"]


def subtitle(attrs: Attrs, label: str, lang: Lang) -> str:
    """`n = …`, the unresolved share and the snapshot label, as printed under the title."""
    text = UI_TEXT[lang]
    by = str(attrs.get("by", "domains"))
    total = int(attrs.get("total", 0) or 0)
    unresolved = int(attrs.get("unresolved", 0) or 0)
    share = unresolved / total if total else 0.0
    parts = [
        text["n"].format(n=int(attrs.get("n", 0) or 0), unit=_unit(by, lang)),
        text[f"unresolved_{by}"].format(
            domains=int(attrs.get("unresolved_domains", 0) or 0), share=share
        ),
        text["snapshot"].format(label=label),
    ]
    return "   ·   ".join(parts)


def _bar_labels(table: pd.DataFrame, name: str, lang: Lang) -> list[str]:
    key = table.columns[0]
    return [category_label(name, str(value), lang) for value in table[key]]


def _bar_colours(table: pd.DataFrame, name: str) -> list[str]:
    if FAMILY.get(name) == "problem":
        return [colour_of(name, kind) for kind in table["kind"]]
    key = table.columns[0]
    return [colour_of(name, str(value)) for value in table[key]]


def _draw_bars(axes: Axes, table: pd.DataFrame, name: str, lang: Lang) -> None:
    shown = table.head(MAX_BARS)
    positions = list(range(len(shown)))
    shares = shown["share"].astype(float).tolist()
    axes.barh(positions, shares, color=_bar_colours(shown, name), height=0.7)
    axes.set_yticks(positions, _bar_labels(shown, name, lang), fontsize=21)
    axes.invert_yaxis()
    top = max([*shares, 0.01])
    axes.set_xlim(0, top * 1.28)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    axes.tick_params(axis="x", labelsize=17, colors=MUTED)
    for y, (share, count) in enumerate(zip(shares, shown["count"], strict=True)):
        axes.text(share + top * 0.015, y, f"{share:.1%}  ({int(count):,})", va="center")


def _no_data(axes: Axes, lang: Lang) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, UI_TEXT[lang]["no_data"], ha="center", va="center", fontsize=28)


def _table_note(name: str, table: pd.DataFrame, lang: Lang) -> str:
    notes = []
    if name in VENDOR_TABLES:
        notes.append(UI_TEXT[lang]["sum_past_100"])
    if FAMILY.get(name) == "problem":
        notes.append(UI_TEXT[lang]["problem_colours"])
    if len(table) > MAX_BARS:
        notes.append(UI_TEXT[lang]["more_rows"].format(shown=MAX_BARS, rows=len(table)))
    return "  ".join(notes)


def draw_table(
    name: str,
    table: pd.DataFrame,
    label: str,
    lang: Lang = "en",
    *,
    facts: str | None = None,
    note: str | None = None,
) -> Figure:
    """One snapshot table as a horizontal bar chart of shares, with counts at the bars.
    `facts` and `note` replace the line under the title and the footer (the flow report's)."""
    with matplotlib.rc_context(_rc(lang)):
        figure = _new_figure()
        figure.subplots_adjust(left=0.31, right=0.96, top=0.79, bottom=0.15)
        axes = figure.add_subplot()
        facts = subtitle(table.attrs, label, lang) if facts is None else facts
        _header(figure, title_of(name, table.attrs, lang), facts)
        if table.empty:
            _no_data(axes, lang)
        else:
            _draw_bars(axes, table, name, lang)
            axes.set_xlabel(UI_TEXT[lang][f"share_{table.attrs.get('by', 'domains')}"])
        _footer(figure, _table_note(name, table, lang) if note is None else note)
    return figure


def _trend_lines(axes: Axes, table: pd.DataFrame, name: str, lang: Lang) -> None:
    key = table.columns[1]
    labels = list(dict.fromkeys(table["label"]))
    for index, (value, rows) in enumerate(table.groupby(key, sort=False)):
        if index == MAX_LINES:
            break
        points = rows.set_index("label").reindex(labels)["share"].astype(float)
        axes.plot(
            range(len(labels)),
            points.tolist(),
            marker="o",
            linewidth=4,
            markersize=12,
            color=_trend_colour(name, str(value), index),
            label=category_label(name, str(value), lang),
        )
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    axes.set_ylim(bottom=0, top=max(float(table["share"].max()), 0.01) * 1.15)
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=18)


def _trend_colour(name: str, value: str, index: int) -> str:
    family = FAMILY.get(name, "vendor")
    colour = COLOURS.get(f"{family}:{value}")
    return colour or TREND_PALETTE[index % len(TREND_PALETTE)]


def _trend_ticks(axes: Axes, table: pd.DataFrame, lang: Lang) -> None:
    points = table.drop_duplicates("label")
    ticks = [
        f"{label}\n" + UI_TEXT[lang]["n_short"].format(n=int(n))
        for label, n in zip(points["label"], points["n"], strict=True)
    ]
    axes.set_xticks(range(len(ticks)), ticks, fontsize=17)
    axes.set_xlim(-0.3, len(ticks) - 0.7)


def trend_subtitle(table: pd.DataFrame, lang: Lang) -> str:
    """Unit, latest unresolved share and the snapshot range of a trend table."""
    text = UI_TEXT[lang]
    by = str(table.attrs.get("by", "domains"))
    labels = list(dict.fromkeys(table["label"])) if not table.empty else ["-"]
    last = table[table["label"] == labels[-1]]
    total = int(last["total"].iloc[0]) if not last.empty else 0
    unresolved = int(last["unresolved"].iloc[0]) if not last.empty else 0
    parts = [
        text[f"trend_{by}"],
        text[f"unresolved_{by}"].format(
            domains=int(last["unresolved_domains"].iloc[0]) if not last.empty else 0,
            share=unresolved / total if total else 0.0,
        )
        + f" ({labels[-1]})",
        text["snapshots"].format(first=labels[0], last=labels[-1]),
    ]
    return "   ·   ".join(parts)


def draw_trend(
    name: str,
    table: pd.DataFrame,
    lang: Lang = "en",
    *,
    facts: str | None = None,
    note: str | None = None,
) -> Figure:
    """A trend table (one row per snapshot and category) as lines of share over time.
    `facts` and `note` replace the line under the title and the footer (the flow trend's)."""
    with matplotlib.rc_context(_rc(lang)):
        figure = _new_figure()
        figure.subplots_adjust(left=0.08, right=0.66, top=0.79, bottom=0.16)
        axes = figure.add_subplot()
        facts = trend_subtitle(table, lang) if facts is None else facts
        _header(figure, title_of(name, table.attrs, lang), facts)
        if table.empty:
            _no_data(axes, lang)
        else:
            _trend_lines(axes, table, name, lang)
            _trend_ticks(axes, table, lang)
            axes.set_ylabel(UI_TEXT[lang][f"share_{table.attrs.get('by', 'domains')}"])
        if note is None:
            note = UI_TEXT[lang]["sum_past_100"] if name in VENDOR_TABLES else ""
        _footer(figure, note)
    return figure


def draw_counts(table: pd.DataFrame, lang: Lang = "en") -> Figure:
    """Domains (resolved and unresolved) per snapshot, as stacked bars."""
    with matplotlib.rc_context(_rc(lang)):
        figure = _new_figure()
        figure.subplots_adjust(left=0.1, right=0.96, top=0.77, bottom=0.12)
        axes = figure.add_subplot()
        text = UI_TEXT[lang]
        labels = [str(label) for label in table["label"]]
        _header(figure, TITLES["domain_counts"][lang], _counts_subtitle(table, lang))
        resolved = table["resolved"].astype(int).tolist()
        axes.bar(labels, resolved, color=COLOURS["type:E"], label=text["resolved"])
        axes.bar(labels, table["unresolved"].astype(int).tolist(), bottom=resolved,
                 color=GREY, label=text["unresolved"])  # fmt: skip
        for x, total in enumerate(table["domains"].astype(int)):
            axes.text(x, total, f"{total:,}", ha="center", va="bottom")
        axes.set_ylim(0, max([*table["domains"].astype(int), 1]) * 1.12)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(text["unit_domains"])
        axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False)
    return figure


def _counts_subtitle(table: pd.DataFrame, lang: Lang) -> str:
    """The latest point's n and unresolved share, and the snapshot range."""
    text = UI_TEXT[lang]
    if table.empty:
        return text["snapshots"].format(first="-", last="-")
    last = table.iloc[-1]
    share = int(last["unresolved"]) / int(last["domains"]) if int(last["domains"]) else 0.0
    return "   ·   ".join(
        [
            text["n"].format(n=int(last["domains"]), unit=_unit("domains", lang))
            + f" ({last['label']})",
            text["unresolved_domains"].format(domains=int(last["unresolved"]), share=share),
            text["snapshots"].format(first=table["label"].iloc[0], last=last["label"]),
        ]
    )


def save(figure: Figure, stem: Path, formats: Iterable[str] = ("png", "svg")) -> list[Path]:
    """Write `figure` as `stem.png`, `stem.svg`, …; returns the files."""
    paths = []
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "dmarc-survey"}):
        for fmt in formats:
            path = stem.with_name(f"{stem.name}.{fmt}")
            metadata = {"Date": None} if fmt == "svg" else None
            figure.savefig(path, format=fmt, dpi=DPI, metadata=metadata)
            paths.append(path)
    return paths


# The same canvas, fonts and header for the report's other figures (the scorecard grid).
chart_rc = _rc
new_figure = _new_figure
header = _header

"""The words around the numbers, in English and Japanese: titles, units, the line under a title
(`n`, the unresolved share, the snapshot label) and the notes under a chart."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd

from survey.report.labels import Lang

#: A table's `attrs` (pandas types them loosely): n, by, unresolved, total, top…
Attrs = Mapping[Hashable, Any]
#: Between the parts of a subtitle; a subtitle too wide for one line is broken here.
SEPARATOR = "   ·   "

UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "unit_domains": "domains",
        "unit_volume": "messages (mail volume)",
        "n": "n = {n:,} {unit}",
        "n_short": "n = {n}",
        "trend_domains": "share of domains, n per point under each label",
        "trend_volume": "share of mail volume, n (messages) under each label",
        "unresolved_domains": "unresolved {domains:,} ({share:.1%})",
        "unresolved_volume": "unresolved domains {domains:,} ({share:.1%} of volume)",
        "snapshot": "snapshot {label}",
        "snapshots": "{first} – {last}",
        "share_domains": "share of domains",
        "share_volume": "share of mail volume",
        "by_domains": "by domains",
        "by_volume": "by mail volume",
        "no_data": "no domains in this table",
        "sum_past_100": "A domain naming several destinations counts for each: "
        "shares may sum past 100%.",
        "more_rows": "Top {shown} of {rows} rows shown; all rows in the table.",
        "tags_note": "A record counts once for each tag it has: shares may sum past 100%.",
        "differences_note": "Each domain counted once, for the first reason that holds, "
        "in this order; n: domains resolved under both RFCs.",
        "more_points": "One snapshot in {step} labelled; all in the table.",
        "problem_colours": "Red: error (the record is invalid). Yellow: warning.",
        "examples": "An example record each; codes and full records in the table.",
        "resolved": "resolved",
        "unresolved": "unresolved",
        "stack_unresolved": "unresolved {domains:,} ({domains_share:.1%} of domains, "
        "{volume_share:.1%} of volume)",
    },
    "ja": {
        "unit_domains": "ドメイン (ドメイン数)",
        "unit_volume": "通 (流通数)",
        "n": "n = {n:,} {unit}",
        "n_short": "n = {n}",
        "trend_domains": "ドメイン数の割合 (n は各時点の下)",
        "trend_volume": "流通数の割合 (n は各時点の下)",
        "unresolved_domains": "未解決 {domains:,} ({share:.1%})",
        "unresolved_volume": "未解決 {domains:,} ドメイン (流通数の {share:.1%})",
        "snapshot": "スナップショット {label}",
        "snapshots": "{first} – {last}",
        "share_domains": "ドメイン数の割合",
        "share_volume": "流通数の割合",
        "by_domains": "ドメイン数",
        "by_volume": "流通数",
        "no_data": "この表に該当するドメインはありません",
        "sum_past_100": "複数の送信先を指定するドメインはそれぞれに数えるため、"
        "合計が 100% を超えることがあります。",
        "more_rows": "上位 {shown} 行を表示 (全 {rows} 行は表に掲載)。",
        "tags_note": "レコードは持つタグごとに数えるため、合計が 100% を超えることがあります。",
        "differences_note": "各ドメインは上から最初に当てはまる理由で 1 回だけ数えます。"
        "n は両 RFC で解決したドメイン数。",
        "more_points": "ラベルは {step} 時点ごと (全時点は表に掲載)。",
        "problem_colours": "赤: 誤り (レコードは無効)。黄: 警告。",
        "examples": "各行にレコードの例 (コードと全文は表に掲載)。",
        "resolved": "解決済み",
        "unresolved": "未解決",
        "stack_unresolved": "未解決 {domains:,} (ドメイン数の {domains_share:.1%}、"
        "流通数の {volume_share:.1%})",
    },
}

#: Chart titles (`{top}` and `{top_by}` filled in for the top-N cut).
TITLES: dict[str, dict[str, str]] = {
    "types": {"en": "Domain types A–F", "ja": "ドメインの分類 A–F"},
    "types_top": {
        "en": "Domain types A–F, top {top:,} by {top_by}",
        "ja": "上位 {top:,} ドメインの分類 A–F ({top_by}順)",
    },
    "types_stack": {
        "en": "Domain types A–F, by domains and by mail volume",
        "ja": "ドメインの分類 A–F (ドメイン数・流通数)",
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
    "policy_effective_9989": {
        "en": "Policy a receiver applies (RFC 9989 §4.10.1)",
        "ja": "受信側が適用するポリシー (RFC 9989 §4.10.1)",
    },
    "rfc_differences": {
        "en": "Verdict or policy differs: RFC 9989 vs RFC 7489",
        "ja": "RFC 9989 と RFC 7489 で判定・ポリシーが異なるドメイン",
    },
    "rfc9989_tags": {
        "en": "RFC 9989 tags np, psd, t (record that applies)",
        "ja": "RFC 9989 のタグ np・psd・t (適用レコード)",
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
#: Compact numbers: (power of ten, suffix), largest first.
_COMPACT = {
    "en": ((12, "T"), (9, "B"), (6, "M"), (3, "k")),
    "ja": ((12, "兆"), (8, "億"), (4, "万")),
}


def title_of(name: str, attrs: Attrs, lang: Lang) -> str:
    """The chart title of table `name` (a trend table when `attrs` says so)."""
    top_by = TOP_BY_TEXT[lang].get(str(attrs.get("top_by", "rank")), "")
    title = TITLES[name][lang].format(top=int(attrs.get("top", 0) or 0), top_by=top_by)
    return title + _TREND_SUFFIX[lang] if attrs.get("trend") else title


def unit(by: str, lang: Lang) -> str:
    return UI_TEXT[lang][f"unit_{by}"]


def compact(number: int, lang: Lang) -> str:
    """`number` in few characters (1.2M, 1,235億) for where the full one does not fit."""
    for power, suffix in _COMPACT[lang]:
        if abs(number) >= 10**power:
            value = number / 10**power
            text = f"{value:,.0f}" if lang == "ja" or value >= 100 else f"{value:.1f}"
            return text.removesuffix(".0") + suffix
    return f"{number:,}"


def _int(attrs: Attrs, key: str) -> int:
    return int(attrs.get(key, 0) or 0)


def unresolved_text(attrs: Attrs, lang: Lang) -> str:
    """The unresolved domains and their share of the table's unit."""
    by = str(attrs.get("by", "domains"))
    total = _int(attrs, "total")
    share = _int(attrs, "unresolved") / total if total else 0.0
    text = UI_TEXT[lang][f"unresolved_{by}"]
    return text.format(domains=_int(attrs, "unresolved_domains"), share=share)


def subtitle(attrs: Attrs, label: str, lang: Lang) -> str:
    """`n = …`, the unresolved share and the snapshot label, as printed under the title."""
    text = UI_TEXT[lang]
    by = str(attrs.get("by", "domains"))
    parts = [
        text["n"].format(n=_int(attrs, "n"), unit=unit(by, lang)),
        unresolved_text(attrs, lang),
        text["snapshot"].format(label=label),
    ]
    return SEPARATOR.join(parts)


def trend_subtitle(table: pd.DataFrame, lang: Lang) -> str:
    """Unit, latest unresolved share and the snapshot range of a trend table."""
    text = UI_TEXT[lang]
    by = str(table.attrs.get("by", "domains"))
    labels = list(dict.fromkeys(table["label"])) if not table.empty else ["-"]
    last = table[table["label"] == labels[-1]]
    point: dict[Hashable, Any] = {"by": by}
    if not last.empty:
        point.update(last.iloc[0].to_dict())
    parts = [
        text[f"trend_{by}"],
        unresolved_text(point, lang) + f" ({labels[-1]})",
        text["snapshots"].format(first=labels[0], last=labels[-1]),
    ]
    return SEPARATOR.join(parts)


def counts_subtitle(table: pd.DataFrame, lang: Lang) -> str:
    """The latest point's n and unresolved share, and the snapshot range."""
    text = UI_TEXT[lang]
    if table.empty:
        return text["snapshots"].format(first="-", last="-")
    last = table.iloc[-1]
    share = int(last["unresolved"]) / int(last["domains"]) if int(last["domains"]) else 0.0
    return SEPARATOR.join(
        [
            text["n"].format(n=int(last["domains"]), unit=unit("domains", lang))
            + f" ({last['label']})",
            text["unresolved_domains"].format(domains=int(last["unresolved"]), share=share),
            text["snapshots"].format(first=table["label"].iloc[0], last=last["label"]),
        ]
    )

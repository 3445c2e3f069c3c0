"""What a person reads for each category: types, statuses, policies … and every problem code.

A chart shows a short label where the tables keep a code: `p_invalid` is drawn as
"bad p= (p=monitor…)". Every code of every class in `survey.schema.codes` has a label in English
and in Japanese (`tests/test_labels.py` fails on a code without one, so a new code brings its
label), and the README's label tables are generated here (`markdown`) and checked against it.
Labels are short (at most `MAX_LABEL` characters): the code's meaning is in the README.
"""

from __future__ import annotations

from typing import Literal

from survey.report.palette import FAMILY
from survey.schema.codes import DkimCode, Dmarc9989Code, DmarcCode, ProblemCode, SpfCode

Lang = Literal["en", "ja"]
LANGS: tuple[Lang, ...] = ("en", "ja")
MAX_LABEL = 34
Pair = tuple[str, str]  # (English, Japanese)

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
_DIFFERENCE = {
    "psd_policy": ("PSD policy (psd=y record)", "PSD のポリシー (psd=y)"),
    "missing_p": ("no p (RFC 9989: p=none)", "p なし (RFC 9989 では p=none)"),
    "pct_t": ("pct < 100 or t=y", "pct < 100 または t=y"),
    "tree_walk_org": ("tree walk's organizational domain", "ツリーウォークの組織ドメイン"),
    "other": ("other (removed tags, rua rule …)", "その他 (廃止タグ・rua 規則など)"),
}
_TAG = {
    "np": ("np set", "np あり"),
    "psd=y": ("psd=y (public suffix)", "psd=y (公開サフィックス)"),
    "psd=n": ("psd=n (organizational domain)", "psd=n (組織ドメイン)"),
    "psd=u": ("psd=u", "psd=u"),
    "t=y": ("t=y (test mode)", "t=y (テストモード)"),
    "t=n": ("t=n", "t=n"),
}
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
_DKIM_STATUS = {
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
    for kind in "ABCDEF"
    for status, words in _DKIM_STATUS.items()
}

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
CATEGORY_TEXT: dict[str, dict[str, Pair]] = {
    "type": _TYPES,
    "status": _STATUS,
    "policy": _POLICY,
    "report": _REPORT,
    "all": _ALL,
    "vendor": _VENDOR,
    "difference": _DIFFERENCE,
    "tag": _TAG,
    "dkim": _DKIM_STATUS,
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

_DMARC: dict[str, Pair] = {
    "not_dmarc": ("not a DMARC record", "DMARC 以外のテキスト"),
    "spf_at_dmarc": ("an SPF record at _dmarc", "_dmarc に SPF レコード"),
    "v_not_first": ("v=DMARC1 not first", "v=DMARC1 が先頭にない"),
    "v_invalid": ("v= not DMARC1 (v=dmarc1)", "v= が DMARC1 でない"),
    "multiple_records": ("several DMARC records", "DMARC レコードが複数"),
    "p_missing": ("no p= (v=DMARC1 only)", "p= なし (v=DMARC1 のみ等)"),
    "p_not_second": ("p= not right after v=", "p= が v= の直後にない"),
    "p_invalid": ("p=monitor, p=quarentena", "p= の値が不正 (monitor 等)"),
    "sp_invalid": ("bad sp= value", "sp= の値が不正"),
    "pct_invalid": ("pct= not 0–100", "pct= が 0–100 でない"),
    "adkim_invalid": ("adkim= not r or s", "adkim= が r・s でない"),
    "aspf_invalid": ("aspf= not r or s", "aspf= が r・s でない"),
    "fo_invalid": ("bad fo= value", "fo= の値が不正"),
    "rf_invalid": ("bad rf= value", "rf= の値が不正"),
    "ri_invalid": ("ri= not a number", "ri= が数値でない"),
    "rua_invalid": ("bad rua= address", "rua= のアドレスが不正"),
    "ruf_invalid": ("bad ruf= address", "ruf= のアドレスが不正"),
    "tag_syntax": ('":" as separator (p:reject)', "区切りが「:」など (p:reject 等)"),
    "duplicate_tag": ("a tag given twice", "同じタグが複数"),
    "unknown_tag": ("unknown tag", "未定義のタグ"),
    "discarded_text": ("other text beside the record", "レコード以外のテキストが併存"),
    "report_uri_not_mailto": ("report URI not mailto:", "レポート URI が mailto: 以外"),
    "rua_unauthorized": ("rua destination not authorized", "rua 送信先の許可なし"),
    "ruf_unauthorized": ("ruf destination not authorized", "ruf 送信先の許可なし"),
    "report_auth_unresolved": ("destination check failed", "送信先の許可確認に失敗"),
    "non_utf8": ("bytes not UTF-8", "UTF-8 でないバイト"),
    "leading_whitespace": ("space before v=DMARC1", "v=DMARC1 の前に空白"),
}
#: RFC 9989's codes that mean what RFC 7489's of the same name mean: the same words.
_SAME_IN_9989 = (
    "not_dmarc", "spf_at_dmarc", "v_not_first", "v_invalid", "multiple_records", "p_invalid",
    "sp_invalid", "adkim_invalid", "aspf_invalid", "fo_invalid", "rua_invalid", "ruf_invalid",
    "tag_syntax", "duplicate_tag", "unknown_tag", "discarded_text", "report_uri_not_mailto",
    "non_utf8", "leading_whitespace",
)  # fmt: skip
_DMARC9989: dict[str, Pair] = {
    **{code: _DMARC[code] for code in _SAME_IN_9989},
    "np_invalid": ("bad np= value", "np= の値が不正"),
    "psd_invalid": ("psd= not y, n or u", "psd= が y・n・u でない"),
    "t_invalid": ("t= not y or n", "t= が y・n でない"),
    "p_missing": ("no p= (read as p=none)", "p= なし (p=none 扱い)"),
    "removed_tag": ("pct=, rf= or ri= (removed)", "pct=・rf=・ri= (廃止)"),
    "obsolete_size": ("!size on a report URI", "レポート URI に !size"),
    "walk_discarded": ("several records on the tree walk", "ツリー探索中にレコードが複数"),
}
_SPF: dict[str, Pair] = {
    "multiple_records": ("several SPF records", "SPF レコードが複数"),
    "unknown_term": ("unknown term (ipv4:)", "未知の項目 (ipv4: 等)"),
    "mechanism_syntax": ("bad address, CIDR or domain", "アドレス・CIDR・ドメインが不正"),
    "duplicate_modifier": ("redirect= or exp= twice", "redirect=・exp= が重複"),
    "macro_syntax": ("bad macro (%{…})", "マクロが不正 (%{…})"),
    "non_ascii": ("non-ASCII characters", "ASCII 以外の文字"),
    "ptr_mechanism": ("ptr used", "ptr を使用"),
    "plus_all": ("+all: anyone passes", "+all (誰でも通過)"),
    "terms_after_all": ("terms after all", "all の後に項目"),
    "no_all": ("no all, no redirect", "all・redirect なし"),
    "unknown_modifier": ("unknown modifier", "未定義の修飾子"),
    "record_over_512": ("over 512 bytes", "512 バイト超"),
    "non_utf8": ("bytes not UTF-8", "UTF-8 でないバイト"),
}
_DKIM: dict[str, Pair] = {
    "tag_syntax": ("not tag=value", "tag=value 形式でない"),
    "duplicate_tag": ("a tag given twice", "同じタグが複数"),
    "v_not_first": ("v=DKIM1 not first", "v=DKIM1 が先頭にない"),
    "v_invalid": ("v= not DKIM1", "v= が DKIM1 でない"),
    "p_missing": ("no p= (no key)", "p= なし (鍵なし)"),
    "p_not_base64": ("p= not base64", "p= が base64 でない"),
    "key_unparsable": ("key unreadable", "鍵が読めない"),
    "rsa_under_1024": ("RSA key under 1024 bits", "RSA 鍵が 1024 ビット未満"),
    "unknown_key_type": ("unknown key type k=", "未知の鍵の種類 k="),
    "sha1_only": ("h=sha1 only", "h=sha1 のみ"),
    "rsa_under_2048": ("RSA key under 2048 bits", "RSA 鍵が 2048 ビット未満"),
    "testing": ("t=y (testing)", "t=y (テスト中)"),
    "service_not_email": ("s= not email", "s= が email でない"),
    "unknown_tag": ("unknown tag", "未定義のタグ"),
    "multiple_records": ("several records at a selector", "セレクタにレコードが複数"),
    "non_utf8": ("bytes not UTF-8", "UTF-8 でないバイト"),
    "wildcard_domainkey": ("wildcard under _domainkey", "_domainkey にワイルドカード"),
}

#: Code class → code → (English, Japanese) label.
PROBLEM_LABELS: dict[type[ProblemCode], dict[str, Pair]] = {
    DmarcCode: _DMARC,
    Dmarc9989Code: _DMARC9989,
    SpfCode: _SPF,
    DkimCode: _DKIM,
}
#: Problem table name → the class of its codes.
CODES_OF_TABLE: dict[str, type[ProblemCode]] = {
    "dmarc_problems": DmarcCode,
    "spf_problems": SpfCode,
}


def problem_label(codes: type[ProblemCode], code: str, lang: Lang) -> str:
    """The label of `code` of class `codes`; the code itself when it has none (a newer one)."""
    pair = PROBLEM_LABELS.get(codes, {}).get(code)
    return code if pair is None else pair[LANGS.index(lang)]


def category_label(table_name: str, key: str, lang: Lang) -> str:
    """The label of category `key` of table `table_name` (a type, a policy, a code, a vendor…)."""
    if table_name in CODES_OF_TABLE:
        return problem_label(CODES_OF_TABLE[table_name], key, lang)
    pair = CATEGORY_TEXT.get(FAMILY.get(table_name, ""), {}).get(key)
    return key if pair is None else pair[LANGS.index(lang)]


def markdown(codes: type[ProblemCode]) -> str:
    """The README's label table of a code class."""
    rows = [
        f"| `{code}` | {PROBLEM_LABELS[codes][code][0]} | {PROBLEM_LABELS[codes][code][1]} |"
        for code in codes
    ]
    return "\n".join(["| code | label | ラベル |", "| --- | --- | --- |", *rows])

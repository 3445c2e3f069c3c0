"""The lab generator: a synthetic root zone of DMARC and SPF records whose verdicts are known.

Every domain is planned along four independent dimensions — what sits at `_dmarc.<d>` (the
"DMARC case"), where its reports go (the "report case"), what SPF it publishes (the "SPF case"),
and, for a subdomain, how it relates to its organizational domain (the "sub case"). Each case
writes its records as text AND states the truth about them (tags as written, problem codes,
report destinations); the expected verdicts are computed from that truth with the verdict rules
of the spec, never by running the survey's own parsers. Each case appears at least
`MIN_PER_CASE` times once the lab is big enough, the rest follow weights close to today's
Internet. `epoch=1, 2, …` replays the same lab "a month later" with ~10% of domains changed.
"""

import bisect
import csv
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from survey import DATA_DIR
from survey.errors import LabError
from survey.lab.zonefile import header_lines, txt_line

MIN_PER_CASE = 5
SUB_SHARE = 0.05
CHANGE_RATE = 0.10

# fmt: off
WORDS = (
    "acme", "amber", "apex", "arrow", "atlas", "aurora", "beacon", "birch", "cedar", "cobalt",
    "comet", "coral", "delta", "dune", "echo", "ember", "falcon", "fern", "forge", "garnet",
    "harbor", "hazel", "indigo", "ivory", "jade", "lagoon", "lotus", "maple", "meadow", "nimbus",
    "onyx", "orchid", "pearl", "pine", "prism", "quartz", "raven", "ridge", "river", "sage",
    "shore", "sierra", "slate", "solar", "summit", "terra", "tidal", "topaz", "valley", "willow",
    "zenith",
)
# fmt: on
THIRD_PARTY_WORDS = ("mailguard", "reportbox", "inboxwatch", "postsafe", "mxshield", "rptdesk")
SUB_LABELS = ("mail", "news", "email", "info", "shop", "marketing", "em", "send")
SUFFIXES = (("com", 50), ("net", 7), ("org", 7), ("co.uk", 8), ("jp", 6), ("co.jp", 8), ("de", 14))
#: Where each vendor's reports really go: (rua host, ruf host, local part or None for a token).
VENDOR_HOSTS = {
    "agari.com": ("rua.agari.com", "ruf.agari.com", None),
    "dmarcian.com": ("ag.dmarcian.com", "fr.dmarcian.com", None),
    "dmarcian.eu": ("ag.dmarcian.eu", "fr.dmarcian.eu", None),
    "vali.email": ("vali.email", "vali.email", "dmarc_agg"),
    "valimail.com": ("rua.valimail.com", "ruf.valimail.com", None),
    "ondmarc.com": ("inbox.ondmarc.com", "inbox.ondmarc.com", None),
    "uriports.com": ("report.uriports.com", "report.uriports.com", None),
    "report-uri.com": ("report-uri.com", "report-uri.com", None),
    "mailhardener.com": ("dmarc.mailhardener.com", "dmarc.mailhardener.com", None),
}
VENDOR_WEIGHTS = {
    "agari.com": 4,
    "dmarcian.com": 5,
    "vali.email": 5,
    "emaildefense.proofpoint.com": 5,
    "dmarc-reports.cloudflare.net": 6,
    "easydmarc.us": 2,
    "ondmarc.com": 2,
}
INCLUDES = (
    "_spf.google.com",
    "spf.protection.outlook.com",
    "servers.mcsv.net",
    "_spf.salesforce.com",
    "sendgrid.net",
    "amazonses.com",
    "mail.zendesk.com",
    "spf.mandrillapp.com",
)
TOKENS = (
    "google-site-verification=",
    "MS=ms",
    "facebook-domain-verification=",
    "apple-domain-verification=",
)


@dataclass(frozen=True, slots=True)
class LabPaths:
    """The files of one generated lab."""

    out_dir: Path
    root_zone: Path
    domains_csv: Path
    expected_parquet: Path
    cases_parquet: Path
    lab_json: Path


@dataclass(frozen=True, slots=True)
class ReportUri:
    """A syntactically valid report URI as written, and the truth about its destination."""

    uri: str
    host: str
    vendor: str  # vendor name, `self` or `other`
    authorized: bool  # not external, or the host publishes the RFC 7489 §7.1 record


@dataclass(frozen=True, slots=True)
class DmarcText:
    """One TXT record published at `_dmarc.<d>` and what a correct parser must find in it."""

    strings: tuple[str, ...]  # the character-strings as written
    is_dmarc: bool = True
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    p: str | None = None
    sp: str | None = None
    pct: int | None = None
    p_valid: bool = True
    sp_valid: bool = True
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()

    def policy(self, from_organizational: bool) -> str | None:
        """RFC 7489 §6.6.3 step 6, as the spec states it."""
        if self.p is not None and self.p_valid and self.sp_valid:
            return self.sp if from_organizational and self.sp else self.p
        return "none" if self.rua else None


@dataclass(frozen=True, slots=True)
class SpfTruth:
    """The TXT records at `<d>` (SPF and others) and the verdict on them."""

    texts: tuple[str, ...] = ()
    status: str = "absent"
    all: str | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """One lab domain: its name and cases. `bits` seeds every detail so a case is stable."""

    name: str
    org: str
    dmarc: str
    spf: str = "absent"
    report: str | None = None
    sub: str | None = None
    parent: int | None = None
    reserved: bool = False
    bits: int = 0


@dataclass(frozen=True, slots=True)
class Published:
    """What the zone holds for one domain."""

    plan: Plan
    dmarc: tuple[DmarcText, ...]
    cname: str | None
    spf: SpfTruth
    has_a: bool


def _mix(bits: int, salt: int) -> int:
    """A decorrelated 40-bit number from a domain's bits (multiply-shift hashing)."""
    return ((bits * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9) >> 24) & 0xFFFFFFFFFF


T = TypeVar("T")


def _pick(bits: int, salt: int, choices: tuple[T, ...] | list[T]) -> T:
    return choices[_mix(bits, salt) % len(choices)]


def _token(bits: int, salt: int, length: int = 10) -> str:
    return f"{_mix(bits, salt):010x}{_mix(bits, salt + 97):010x}"[:length]


# --- report destinations -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VendorSite:
    vendor: str
    suffix: str
    rua_host: str
    ruf_host: str
    local: str | None


def load_vendor_sites(path: Path = DATA_DIR / "vendors.csv") -> tuple[VendorSite, ...]:
    """Vendors of data/vendors.csv with real-looking report hosts, repeated by weight."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise LabError(f"cannot read vendor table {path}: {exc}") from exc
    sites = []
    for row in rows:
        suffix = row["suffix"].strip().lower()
        rua, ruf, local = VENDOR_HOSTS.get(suffix, _default_hosts(suffix))
        site = VendorSite(row["vendor"].strip(), suffix, rua, ruf, local)
        sites.extend([site] * VENDOR_WEIGHTS.get(suffix, 1))
    return tuple(sites)


def _default_hosts(suffix: str) -> tuple[str, str, str | None]:
    if suffix.count(".") >= 2:  # already a report host, e.g. emaildefense.proofpoint.com
        return suffix, suffix, None
    return f"rua.{suffix}", f"ruf.{suffix}", None


class Reports:
    """Builds the report URIs of one policy domain."""

    def __init__(self, sites: tuple[VendorSite, ...]) -> None:
        self.sites = sites

    def vendor(self, plan: Plan, forensic: bool = False, size: str = "") -> ReportUri:
        site = _pick(plan.bits, 11, self.sites)
        host = site.ruf_host if forensic else site.rua_host
        local = site.local or _token(plan.bits, 12 + forensic, 8)
        return ReportUri(f"mailto:{local}@{host}{size}", host, site.vendor, True)

    @staticmethod
    def own(plan: Plan, forensic: bool = False, size: str = "") -> ReportUri:
        local = "dmarc-forensic" if forensic else _pick(plan.bits, 13, ("dmarc", "dmarc-reports"))
        host = _pick(plan.bits, 14, (plan.name, plan.org)) if not forensic else plan.name
        return ReportUri(f"mailto:{local}@{host}{size}", host, "self", True)

    @staticmethod
    def other(plan: Plan, authorized: bool) -> ReportUri:
        word = _pick(plan.bits, 15, THIRD_PARTY_WORDS)
        host = f"dmarc.{word}{_mix(plan.bits, 16) % 400}.{_pick(plan.bits, 17, ('com', 'net'))}"
        return ReportUri(f"mailto:reports@{host}", host, "other", authorized)


ReportBuilder = Callable[[Reports, Plan], tuple[tuple[ReportUri, ...], tuple[ReportUri, ...]]]
#: report case → (weight, builder of (rua, ruf)).
REPORT_CASES: dict[str, tuple[float, ReportBuilder]] = {
    "rua_vendor": (30, lambda r, p: ((r.vendor(p),), ())),
    "rua_self": (28, lambda r, p: ((r.own(p),), ())),
    "rua_self_vendor": (6, lambda r, p: ((r.own(p), r.vendor(p)), ())),
    "rua_other_authorized": (3, lambda r, p: ((r.other(p, True),), ())),
    "rua_other_unauthorized": (3, lambda r, p: ((r.other(p, False),), ())),
    "rua_size_limit": (1.5, lambda r, p: ((r.vendor(p, size="!10m"),), ())),
    "rua_ruf_vendor": (4, lambda r, p: ((r.vendor(p),), (r.vendor(p, forensic=True),))),
    "rua_ruf_self": (3, lambda r, p: ((r.own(p),), (r.own(p, forensic=True),))),
    "ruf_only": (1, lambda r, p: ((), (r.own(p, forensic=True),))),
    "ruf_other_unauthorized": (1, lambda r, p: ((r.own(p),), (r.other(p, False),))),
    "no_reports": (15, lambda r, p: ((), ())),
}


# --- DMARC records -------------------------------------------------------------------------


def _join(tags: Iterable[str], bits: int) -> str:
    """Tags as people write them: `; ` or `;` between, sometimes a trailing `;` (allowed)."""
    text = _pick(bits, 21, ("; ", "; ", ";")).join(tags)
    return text + ";" if _mix(bits, 22) % 4 == 0 else text


def _uri_tags(rua: tuple[ReportUri, ...], ruf: tuple[ReportUri, ...], bits: int) -> list[str]:
    tags = [f"rua={','.join(u.uri for u in rua)}"] if rua else []
    if ruf:
        tags += [f"ruf={','.join(u.uri for u in ruf)}"]
        tags += ["fo=1"] if _mix(bits, 23) % 2 else []
    return tags


def _dmarc(
    plan: Plan,
    rua: tuple[ReportUri, ...],
    ruf: tuple[ReportUri, ...],
    p: str,
    *,
    sp: str | None = None,
    pct: str | None = None,
    extra: tuple[str, ...] = (),
    errors: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
) -> DmarcText:
    """A well-ordered record (v, p, then the rest); `errors` names what is wrong on purpose."""
    tags = ["v=DMARC1", f"p={p}"] + ([f"sp={sp}"] if sp else []) + ([f"pct={pct}"] if pct else [])
    tags += _uri_tags(rua, ruf, plan.bits) + list(extra)
    valid_pct = pct is not None and pct.isdigit() and int(pct) <= 100
    return DmarcText(
        strings=(_join(tags, plan.bits),),
        errors=errors,
        warnings=warnings,
        p=p,
        sp=sp,
        pct=int(pct) if valid_pct and pct else None,
        p_valid=p in ("none", "quarantine", "reject"),
        sp_valid=sp in (None, "none", "quarantine", "reject"),
        rua=rua,
        ruf=ruf,
    )


def _verification_token(bits: int, salt: int) -> str:
    prefix = _pick(bits, salt, TOKENS)
    return prefix + (
        f"{_mix(bits, salt + 1) % 10**8:08d}"
        if prefix == "MS=ms"
        else _token(bits, salt + 2, 20) + _token(bits, salt + 3, 20)
    )


def _split(record: DmarcText) -> DmarcText:
    """The record as two character-strings cut inside the p tag: "...p=rej" "ect; ..."."""
    text = record.strings[0]
    cut = text.index("p=") + 5
    return replace(record, strings=(text[:cut], text[cut:]))


def _not_dmarc(text: str, code: str) -> DmarcText:
    return DmarcText(strings=(text,), is_dmarc=False, errors=(code,))


def _raw(plan: Plan, tags: list[str], **truth: object) -> DmarcText:
    return DmarcText(strings=(_join(tags, plan.bits),), **truth)  # type: ignore[arg-type]


DmarcBuilder = Callable[[Plan, tuple[ReportUri, ...], tuple[ReportUri, ...]], tuple[DmarcText, ...]]
_SP_PAIRS = (
    ("reject", "none"),
    ("quarantine", "none"),
    ("none", "reject"),
    ("reject", "quarantine"),
)


def _pct_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    pct = _pick(plan.bits, 31, ("10", "25", "50", "75"))
    return _dmarc(plan, rua, ruf, _pick(plan.bits, 32, ("quarantine", "reject")), pct=pct)


def _sp_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    p, sp = _pick(plan.bits, 33, _SP_PAIRS)
    return _dmarc(plan, rua, ruf, p, sp=sp)


def _self_rua(plan: Plan) -> tuple[ReportUri, ...]:
    return (Reports.own(plan),)


#: DMARC case → (weight, takes a report case, builder of the TXT records at `_dmarc.<d>`).
DMARC_CASES: dict[str, tuple[float, bool, DmarcBuilder]] = {
    "absent": (45, False, lambda p, a, f: ()),
    "valid_none": (26, True, lambda p, a, f: (_dmarc(p, a, f, "none"),)),
    "valid_quarantine": (6, True, lambda p, a, f: (_dmarc(p, a, f, "quarantine"),)),
    "valid_reject": (9, True, lambda p, a, f: (_dmarc(p, a, f, "reject"),)),
    "pct_below_100": (1.5, True, lambda p, a, f: (_pct_record(p, a, f),)),
    "sp": (1.5, True, lambda p, a, f: (_sp_record(p, a, f),)),
    "cname": (1, True, lambda p, a, f: (_dmarc(p, a, f, "quarantine"),)),
    "split_strings": (0.7, True, lambda p, a, f: (_split(_dmarc(p, a, f, "reject")),)),
    "discarded_token": (
        0.7,
        True,
        lambda p, a, f: (
            _not_dmarc(_verification_token(p.bits, 41), "not_dmarc"),
            _dmarc(p, a, f, "none"),
        ),
    ),
    "unknown_tag": (
        0.5,
        True,
        lambda p, a, f: (_dmarc(p, a, f, "none", extra=("lang=en",), warnings=("unknown_tag",)),),
    ),
    "spf_at_dmarc": (
        0.8,
        False,
        lambda p, a, f: (_not_dmarc("v=spf1 include:_spf.google.com ~all", "spf_at_dmarc"),),
    ),
    "token_only": (
        0.6,
        False,
        lambda p, a, f: (_not_dmarc(_verification_token(p.bits, 42), "not_dmarc"),),
    ),
    "v_only": (
        0.5,
        False,
        lambda p, a, f: (DmarcText(strings=("v=DMARC1",), errors=("p_missing",), p_valid=False),),
    ),
    "p_monitor": (
        0.3,
        True,
        lambda p, a, f: (_dmarc(p, a, f, "monitor", errors=("p_invalid",)),),
    ),
    "p_quarentena": (
        0.2,
        True,
        lambda p, a, f: (_dmarc(p, a, f, "quarentena", errors=("p_invalid",)),),
    ),
    "p_colon": (
        0.3,
        True,
        lambda p, a, f: (
            _raw(
                p,
                ["v=DMARC1", "p:reject", *_uri_tags(a, f, p.bits)],
                errors=("p_missing", "tag_syntax"),
                p_valid=False,
                rua=a,
                ruf=f,
            ),
        ),
    ),
    "multiple_records": (
        0.6,
        False,
        lambda p, a, f: (_dmarc(p, _self_rua(p), (), "none"), _dmarc(p, (), (), "reject")),
    ),
    "v_lowercase": (
        0.3,
        False,
        lambda p, a, f: (_not_dmarc(f"v=dmarc1; p=none; rua=mailto:dmarc@{p.name}", "v_invalid"),),
    ),
    "v_not_first": (
        0.2,
        False,
        lambda p, a, f: (
            _not_dmarc(f"p=none; v=DMARC1; rua=mailto:dmarc@{p.name}", "v_not_first"),
        ),
    ),
    "p_after_rua": (
        0.3,
        False,
        lambda p, a, f: (
            _raw(
                p,
                ["v=DMARC1", f"rua={_self_rua(p)[0].uri}", "p=none"],
                errors=("p_not_second",),
                p="none",
                rua=_self_rua(p),
            ),
        ),
    ),
    "pct_150": (
        0.2,
        True,
        lambda p, a, f: (_dmarc(p, a, f, "reject", pct="150", errors=("pct_invalid",)),),
    ),
    "rua_not_mailto": (
        0.4,
        False,
        lambda p, a, f: (
            _raw(
                p, ["v=DMARC1", "p=none", f"rua=dmarc@{p.name}"], errors=("rua_invalid",), p="none"
            ),
        ),
    ),
    "sp_invalid": (
        0.2,
        True,
        lambda p, a, f: (_dmarc(p, a, f, "reject", sp="monitor", errors=("sp_invalid",)),),
    ),
}
#: Cases an organizational domain may have when subdomains fall back to it: nothing, or exactly
#: one DMARC record and no discarded text (the spec leaves the other mixes open).
PARENT_VALID = (
    "valid_none",
    "valid_quarantine",
    "valid_reject",
    "pct_below_100",
    "cname",
    "split_strings",
    "unknown_tag",
)
PARENT_INVALID = (
    "v_only",
    "p_monitor",
    "p_quarentena",
    "p_colon",
    "p_after_rua",
    "pct_150",
    "rua_not_mailto",
    "sp_invalid",
)
PARENT_ELIGIBLE = frozenset(("absent", "sp", *PARENT_VALID, *PARENT_INVALID))
MISTAKES = frozenset(PARENT_INVALID) | {
    "spf_at_dmarc",
    "token_only",
    "multiple_records",
    "v_lowercase",
    "v_not_first",
}
#: sub case → (weight, the parent's DMARC cases to pick from, the sub's own DMARC case or None
#: for one drawn by weight).
SUB_CASES: dict[str, tuple[float, tuple[str, ...], str | None]] = {
    "inherit": (40, PARENT_VALID, "absent"),
    "inherit_sp": (10, ("sp",), "absent"),
    "inherit_invalid": (5, PARENT_INVALID, "absent"),
    "no_org_record": (20, ("absent",), "absent"),
    "own_record": (15, tuple(PARENT_ELIGIBLE), None),
    "token_inherits": (5, PARENT_VALID, "token_only"),
    "token_no_org_record": (5, ("absent",), "token_only"),
}


# --- SPF records ---------------------------------------------------------------------------


def _mechanisms(plan: Plan) -> str:
    """One to three short terms, so that short records stay well under 300 octets."""
    terms = [
        f"include:{_pick(plan.bits, 51 + i, INCLUDES)}" for i in range(_mix(plan.bits, 50) % 3)
    ]
    terms += [_pick(plan.bits, 54, ("mx", "a mx", "ip4:203.0.113.17", "ip4:198.51.100.0/24"))]
    return " ".join(dict.fromkeys(terms))


def _ip4_terms(plan: Plan, count: int) -> str:
    first = _mix(plan.bits, 55)
    return " ".join(
        f"ip4:{45 + (first + k) % 150}.{(first >> 8) % 256}.{k % 256}.0/24" for k in range(count)
    )


def _spf(plan: Plan, record: str, **truth: object) -> SpfTruth:
    """A single SPF record, sometimes beside a verification token (ignored by SPF, §4.5)."""
    texts: tuple[str, ...] = (record,)
    if len(record) < 200 and _mix(plan.bits, 56) % 10 < 3:
        texts += (_verification_token(plan.bits, 57),)
    return SpfTruth(texts=texts, **{"status": "valid", **truth})  # type: ignore[arg-type]


SpfBuilder = Callable[[Plan], SpfTruth]
#: SPF case → (weight, builder). Long records hold only ip4 terms: > 512 octets of text (warning
#: `record_over_512`), the very long ones > 1232 so that even EDNS answers truncate.
SPF_CASES: dict[str, tuple[float, SpfBuilder]] = {
    "absent": (24, lambda p: SpfTruth()),
    "softfail": (33, lambda p: _spf(p, f"v=spf1 {_mechanisms(p)} ~all", all="~all")),
    "fail": (20, lambda p: _spf(p, f"v=spf1 {_mechanisms(p)} -all", all="-all")),
    "neutral": (3, lambda p: _spf(p, f"v=spf1 {_mechanisms(p)} ?all", all="?all")),
    "plus_all": (
        0.8,
        lambda p: _spf(p, f"v=spf1 {_mechanisms(p)} +all", all="+all", warnings=("plus_all",)),
    ),
    "redirect": (3, lambda p: _spf(p, f"v=spf1 redirect=_spf.{p.org}", all="redirect")),
    "no_all": (2, lambda p: _spf(p, f"v=spf1 {_mechanisms(p)}", all="none", warnings=("no_all",))),
    "multiple_records": (
        1.5,
        lambda p: SpfTruth(
            texts=(
                f"v=spf1 {_mechanisms(p)} ~all",
                "v=spf1 include:spf.protection.outlook.com -all",
            ),
            status="invalid",
            errors=("multiple_records",),
        ),
    ),
    "ptr": (
        1,
        lambda p: _spf(
            p, f"v=spf1 ptr {_mechanisms(p)} ~all", all="~all", warnings=("ptr_mechanism",)
        ),
    ),
    "unknown_mechanism": (
        0.6,
        lambda p: _spf(
            p,
            f"v=spf1 {_mechanisms(p)} ipv4:192.0.2.10 -all",
            all="-all",
            status="invalid",
            errors=("unknown_term",),
        ),
    ),
    "bad_ip4": (
        0.6,
        lambda p: _spf(
            p,
            f"v=spf1 ip4:192.0.2.300 {_mechanisms(p)} -all",
            all="-all",
            status="invalid",
            errors=("mechanism_syntax",),
        ),
    ),
    "over_512": (
        1.2,
        lambda p: _spf(
            p,
            f"v=spf1 {_ip4_terms(p, 36 + _mix(p.bits, 58) % 10)} -all",
            all="-all",
            warnings=("record_over_512",),
        ),
    ),
    "over_1232": (
        0.6,
        lambda p: _spf(
            p,
            f"v=spf1 {_ip4_terms(p, 75 + _mix(p.bits, 59) % 15)} ~all",
            all="~all",
            warnings=("record_over_512",),
        ),
    ),
}


# --- planning ------------------------------------------------------------------------------


class _Weighted:
    """Weighted draws over the cases of one dimension, with a guaranteed minimum of each."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.names = tuple(weights)
        total, self.bounds = 0.0, []
        for weight in weights.values():
            total += weight
            self.bounds.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> str:
        index = bisect.bisect_right(self.bounds, rng.random() * self.total)
        return self.names[min(index, len(self.names) - 1)]

    def assign(self, count: int, rng: random.Random) -> list[tuple[str, bool]]:
        """`count` cases, (case, reserved): MIN_PER_CASE of each first when there is room."""
        least = min(MIN_PER_CASE, count // (2 * len(self.names)))
        cases = [(name, True) for name in self.names for _ in range(least)]
        cases += [(self.draw(rng), False) for _ in range(count - len(cases))]
        rng.shuffle(cases)
        return cases


def _org_names(count: int, rng: random.Random) -> list[tuple[str, int]]:
    suffixes = _Weighted(dict(SUFFIXES))
    names = []
    for index in range(count):
        bits = rng.getrandbits(64)
        names.append((f"{_pick(bits, 1, WORDS)}{index}.{suffixes.draw(rng)}", bits))
    return names


def plan_lab(n_domains: int, seed: int) -> list[Plan]:
    """Epoch 0: every domain's name and cases. Organizational domains first, then subdomains."""
    if n_domains < 1:
        raise LabError(f"a lab needs at least one domain, not {n_domains}")
    rng = random.Random(seed)
    n_sub = int(n_domains * SUB_SHARE) if n_domains >= 100 else 0
    dmarc = _Weighted({case: spec[0] for case, spec in DMARC_CASES.items()})
    rows = [
        (name, name, case, None, None, reserved, bits)
        for (name, bits), (case, reserved) in zip(
            _org_names(n_domains - n_sub, rng), dmarc.assign(n_domains - n_sub, rng), strict=True
        )
    ]
    rows += _plan_subdomains(rows, n_sub, rng)
    return _with_reports_and_spf(rows, rng)


def _plan_subdomains(orgs: list[tuple], count: int, rng: random.Random) -> list[tuple]:
    pools: dict[str, list[int]] = {}
    for index, row in enumerate(orgs):
        pools.setdefault(row[2], []).append(index)
    own = _Weighted({case: spec[0] for case, spec in DMARC_CASES.items() if case != "absent"})
    labels: Counter[int] = Counter()
    parents = {
        case: [i for parent_case in spec[1] for i in pools.get(parent_case, ())]
        for case, spec in SUB_CASES.items()
    }
    rows = []
    for case, reserved in _Weighted({c: s[0] for c, s in SUB_CASES.items()}).assign(count, rng):
        own_case, pool = SUB_CASES[case][2], parents[case]
        if not pool:
            raise LabError(f"no organizational domain can be the parent of a {case} subdomain")
        parent = pool[rng.randrange(len(pool))]
        used, labels[parent] = labels[parent], labels[parent] + 1
        label = SUB_LABELS[used] if used < len(SUB_LABELS) else f"mail{used}"
        name = f"{label}.{orgs[parent][0]}"
        dmarc_case = own_case or own.draw(rng)
        rows.append(
            (name, orgs[parent][0], dmarc_case, case, parent, reserved, rng.getrandbits(64))
        )
    return rows


def _with_reports_and_spf(rows: list[tuple], rng: random.Random) -> list[Plan]:
    takers = [i for i, row in enumerate(rows) if DMARC_CASES[row[2]][1]]
    reports: list[tuple[str | None, bool]] = [(None, False)] * len(rows)
    report_cases = _Weighted({case: spec[0] for case, spec in REPORT_CASES.items()})
    for index, assigned in zip(takers, report_cases.assign(len(takers), rng), strict=True):
        reports[index] = assigned
    spf_cases = _Weighted({case: spec[0] for case, spec in SPF_CASES.items()})
    plans = []
    for row, (report, r_res), (spf, s_res) in zip(
        rows, reports, spf_cases.assign(len(rows), rng), strict=True
    ):
        name, org, dmarc, sub, parent, reserved, bits = row
        plans.append(
            Plan(name, org, dmarc, spf, report, sub, parent, reserved or r_res or s_res, bits)
        )
    return plans


# --- the next months -----------------------------------------------------------------------


def evolve(plans: list[Plan], epoch: int, seed: int) -> list[Plan]:
    """The lab `epoch` months later: each month ~CHANGE_RATE of the domains change one thing.

    Reserved domains (the guaranteed minimum of each case) and the DMARC case of parents never
    change, so every case and every subdomain relation survives."""
    parents = {plan.parent for plan in plans if plan.parent is not None}
    reports = _Weighted({case: spec[0] for case, spec in REPORT_CASES.items()})
    for month in range(1, epoch + 1):
        rng = random.Random(f"{seed}/epoch/{month}")
        plans = [
            _change(plan, index in parents, rng, reports)
            if not plan.reserved and rng.random() < CHANGE_RATE
            else plan
            for index, plan in enumerate(plans)
        ]
    return plans


def _change(plan: Plan, is_parent: bool, rng: random.Random, reports: _Weighted) -> Plan:
    may_change_dmarc = not is_parent and plan.sub in (None, "own_record")
    if may_change_dmarc and plan.dmarc == "absent":  # a new DMARC record
        new = "valid_none" if rng.random() < 0.7 else "valid_reject"
        return replace(plan, dmarc=new, report=reports.draw(rng))
    if may_change_dmarc and plan.dmarc == "valid_none":
        return replace(plan, dmarc=rng.choice(("valid_reject", "valid_quarantine")))
    if may_change_dmarc and plan.dmarc in MISTAKES:  # the mistake is fixed
        return replace(plan, dmarc="valid_none", report=plan.report or reports.draw(rng))
    if plan.report in ("no_reports", "rua_self"):  # a vendor is hired
        return replace(plan, report=rng.choice(("rua_vendor", "rua_self_vendor")))
    if plan.spf in ("absent", "no_all", "multiple_records", "unknown_mechanism", "bad_ip4"):
        return replace(plan, spf="softfail")
    return replace(plan, spf="fail") if plan.spf == "softfail" else plan


# --- ground truth --------------------------------------------------------------------------


def publish(plan: Plan, reports: Reports) -> Published:
    """The records a plan puts in the zone, each with the truth about it."""
    rua, ruf = REPORT_CASES[plan.report][1](reports, plan) if plan.report else ((), ())
    texts = DMARC_CASES[plan.dmarc][2](plan, rua, ruf)
    cname = f"{plan.name.replace('.', '-')}.policy.ondmarc.com" if plan.dmarc == "cname" else None
    spf = SPF_CASES[plan.spf][1](plan)
    has_a = not spf.texts and _mix(plan.bits, 60) % 10 < 4
    return Published(plan, texts, cname, spf, has_a)


@dataclass(frozen=True, slots=True)
class DmarcVerdict:
    status: str
    source: str | None
    record: DmarcText | None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def dmarc_verdict(own: Published, org: Published | None) -> DmarcVerdict:
    """Policy discovery (RFC 7489 §6.6.3) over what the generator wrote, per the spec's verdict
    semantics. `org` is the organizational domain's publication, None when d is its own org."""
    found = [text for text in own.dmarc if text.is_dmarc]
    discarded = tuple(text for text in own.dmarc if not text.is_dmarc)
    if len(found) > 1:  # several records stop discovery: no fallback, no policy
        return DmarcVerdict("invalid", "domain", None, ("multiple_records",))
    if found:
        return _applied(found[0], "domain", discarded)
    if org is not None and org.dmarc:
        if len(org.dmarc) != 1 or not org.dmarc[0].is_dmarc:
            raise LabError(f"{org.plan.name}: a fallback case the lab must not generate")
        return _applied(org.dmarc[0], "organizational", discarded)
    if discarded:  # only non-DMARC text and no organizational record: a mistake at _dmarc
        codes = tuple(sorted({code for text in discarded for code in text.errors}))
        return DmarcVerdict("invalid", "domain", None, codes)
    return DmarcVerdict("absent", None, None)


def _applied(record: DmarcText, source: str, discarded: tuple[DmarcText, ...]) -> DmarcVerdict:
    warnings = set(record.warnings)
    if discarded:
        warnings.add("discarded_text")
    if any(not uri.authorized for uri in record.rua):
        warnings.add("rua_unauthorized")
    if any(not uri.authorized for uri in record.ruf):
        warnings.add("ruf_unauthorized")
    status = "invalid" if record.errors else "valid"
    return DmarcVerdict(
        status, source, record, tuple(sorted(set(record.errors))), tuple(sorted(warnings))
    )


_TYPES = {
    ("valid", True): "A",
    ("invalid", True): "B",
    ("valid", False): "C",
    ("invalid", False): "D",
    ("absent", True): "E",
    ("absent", False): "F",
}
EXPECTED_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("domain", "org_domain", "dmarc_status", "dmarc_source")]
    + [(name, pa.string()) for name in ("dmarc_p", "dmarc_sp", "dmarc_effective_p")]
    + [("dmarc_pct", pa.int16())]
    + [(name, pa.list_(pa.string())) for name in ("dmarc_errors", "dmarc_warnings")]
    + [("spf_status", pa.string()), ("spf_all", pa.string())]
    + [(name, pa.list_(pa.string())) for name in ("spf_errors", "spf_warnings")]
    + [("type", pa.string()), ("report_type", pa.string())]
    + [(name, pa.list_(pa.string())) for name in ("rua_vendors", "ruf_vendors")]
    + [("dnssec", pa.string())]
)
# Nothing in this zone is signed, and an authoritative server validates nothing: every answer
# comes without the AD bit. The DNSSEC lab (survey/lab/dnssec.py) states its own.
UNSIGNED = "insecure"


def expected_row(own: Published, org: Published | None) -> tuple:
    """One row of expected.parquet, in EXPECTED_SCHEMA's column order."""
    verdict = dmarc_verdict(own, org)
    record, spf = verdict.record, own.spf
    dmarc_part: tuple = (None,) * 4 + ([], [])
    if record is not None:
        effective = record.policy(verdict.source == "organizational")
        dmarc_part = (record.p, record.sp, effective, record.pct)
        dmarc_part += (
            sorted({u.vendor for u in record.rua}),
            sorted({u.vendor for u in record.ruf}),
        )
    report_type = None if record is None else "DCBA"[bool(record.rua) * 2 + bool(record.ruf)]
    return (
        own.plan.name,
        own.plan.org,
        verdict.status,
        verdict.source,
        *dmarc_part[:4],
        list(verdict.errors),
        list(verdict.warnings),
        spf.status,
        spf.all,
        list(spf.errors),
        list(spf.warnings),
        _TYPES[verdict.status, spf.status != "absent"],
        report_type,
        *dmarc_part[4:],
        UNSIGNED,
    )


# --- files ---------------------------------------------------------------------------------


def generate_lab(n_domains: int, out_dir: Path | str, seed: int = 1, epoch: int = 0) -> LabPaths:
    """Write the lab: root.zone, domains.csv, expected.parquet, cases.parquet and lab.json."""
    out = Path(out_dir)
    paths = LabPaths(
        out,
        out / "root.zone",
        out / "domains.csv",
        out / "expected.parquet",
        out / "cases.parquet",
        out / "lab.json",
    )
    plans = evolve(plan_lab(n_domains, seed), epoch, seed)
    sites = load_vendor_sites()
    reports = Reports(sites)
    published = [publish(plan, reports) for plan in plans]
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_zone(paths.root_zone, published, sites, serial=epoch + 1)
        order = _rank_order(len(plans), seed)
        _write_domains(paths.domains_csv, plans, order, seed)
        rows = [expected_row(published[i], _org_of(published, i)) for i in order]
        pq.write_table(_columns(rows, EXPECTED_SCHEMA), paths.expected_parquet)
        pq.write_table(_cases_table([plans[i] for i in order], plans), paths.cases_parquet)
        paths.lab_json.write_text(_summary(plans, rows, n_domains, seed, epoch), encoding="utf-8")
    except OSError as exc:
        raise LabError(f"cannot write the lab into {out}: {exc}") from exc
    return paths


def _org_of(published: list[Published], index: int) -> Published | None:
    parent = published[index].plan.parent
    return None if parent is None else published[parent]


def _write_zone(
    path: Path, published: list[Published], sites: tuple[VendorSite, ...], serial: int
) -> None:
    with open(path, "w", encoding="ascii") as zone:
        zone.write(header_lines(serial))
        hosts = sorted({host for site in sites for host in (site.rua_host, site.ruf_host)})
        # RFC 7489 §7.1: vendors accept reports for any domain, hence a wildcard.
        zone.writelines(txt_line(f"*._report._dmarc.{host}", ("v=DMARC1",)) for host in hosts)
        authorizations: set[str] = set()
        chunk: list[str] = []
        for index, own in enumerate(published):
            chunk.extend(_domain_lines(own))
            _authorize(own.plan.name, own.dmarc, authorizations, chunk)
            org = _org_of(published, index)
            if org is not None:  # a fallback may ask with either name: authorize both
                _authorize(own.plan.name, org.dmarc, authorizations, chunk)
            if len(chunk) > 50_000:
                zone.writelines(chunk)
                chunk.clear()
        zone.writelines(chunk)


def _domain_lines(own: Published) -> list[str]:
    name = own.plan.name
    lines = [txt_line(name, (text,)) for text in own.spf.texts]
    if own.has_a:
        lines.append(f"{name}. A 192.0.2.{1 + _mix(own.plan.bits, 61) % 250}\n")
    holder = f"_dmarc.{name}"
    if own.cname:
        lines.append(f"{holder}. CNAME {own.cname}.\n")
        holder = own.cname
    lines.extend(txt_line(holder, text.strings) for text in own.dmarc)
    return lines


def _authorize(
    policy_domain: str, texts: tuple[DmarcText, ...], done: set[str], lines: list[str]
) -> None:
    """RFC 7489 §7.1 records of third parties that accept this domain's reports."""
    for text in texts:
        for uri in text.rua + text.ruf:
            owner = f"{policy_domain}._report._dmarc.{uri.host}"
            if uri.vendor == "other" and uri.authorized and owner not in done:
                done.add(owner)
                lines.append(txt_line(owner, ("v=DMARC1",)))


def _rank_order(count: int, seed: int) -> list[int]:
    order = list(range(count))
    random.Random(f"{seed}/ranks").shuffle(order)
    return order


def _write_domains(path: Path, plans: list[Plan], order: list[int], seed: int) -> None:
    """domain,messages,rank: messages heavy-tailed (Zipf-like in rank, log-normal noise)."""
    rng = random.Random(f"{seed}/messages")
    with open(path, "w", encoding="ascii", newline="") as handle:
        handle.write("domain,messages,rank\n")
        handle.writelines(
            f"{plans[i].name},{max(1, int(2e7 / rank**1.1 * rng.lognormvariate(0, 1)))},{rank}\n"
            for rank, i in enumerate(order, 1)
        )


def _columns(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


def _cases_table(ranked: list[Plan], plans: list[Plan]) -> pa.Table:
    """Which cases made each domain: for tests and for reading a golden-scan difference."""
    schema = pa.schema([(name, pa.string()) for name in CASE_COLUMNS])
    rows = [
        (
            p.name,
            p.dmarc,
            p.report,
            p.spf,
            p.sub,
            None if p.parent is None else plans[p.parent].name,
        )
        for p in ranked
    ]
    return _columns(rows, schema)


CASE_COLUMNS = ("domain", "dmarc_case", "report_case", "spf_case", "sub_case", "parent")


def _summary(plans: list[Plan], rows: list[tuple], n: int, seed: int, epoch: int) -> str:
    status_at, type_at = (
        EXPECTED_SCHEMA.names.index("dmarc_status"),
        EXPECTED_SCHEMA.names.index("type"),
    )
    summary = {
        "seed": seed,
        "epoch": epoch,
        "n_domains": n,
        "min_per_case": MIN_PER_CASE,
        "cases": {
            "dmarc": _count(p.dmarc for p in plans),
            "report": _count(p.report for p in plans if p.report),
            "spf": _count(p.spf for p in plans),
            "sub": _count(p.sub for p in plans if p.sub),
        },
        "expected": {
            "dmarc_status": _count(row[status_at] for row in rows),
            "type": _count(row[type_at] for row in rows),
        },
    }
    return json.dumps(summary, indent=2, sort_keys=True) + "\n"


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))

"""What a lab domain publishes at `_dmarc`: the DMARC cases, and how subdomains relate to their
organizational domain (the sub cases)."""

from collections.abc import Callable, Iterable
from dataclasses import replace

from survey.lab.generate.model import (
    DmarcText,
    Plan,
    ReportUri,
    mix,
    pick,
    verification_token,
)
from survey.lab.generate.reports import Reports


def _join(tags: Iterable[str], bits: int) -> str:
    """Tags as people write them: `; ` or `;` between, sometimes a trailing `;` (allowed)."""
    text = pick(bits, 21, ("; ", "; ", ";")).join(tags)
    return text + ";" if mix(bits, 22) % 4 == 0 else text


def _uri_tags(rua: tuple[ReportUri, ...], ruf: tuple[ReportUri, ...], bits: int) -> list[str]:
    tags = [f"rua={','.join(u.uri for u in rua)}"] if rua else []
    if ruf:
        tags += [f"ruf={','.join(u.uri for u in ruf)}"]
        tags += ["fo=1"] if mix(bits, 23) % 2 else []
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
    pct = pick(plan.bits, 31, ("10", "25", "50", "75"))
    return _dmarc(plan, rua, ruf, pick(plan.bits, 32, ("quarantine", "reject")), pct=pct)


def _sp_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    p, sp = pick(plan.bits, 33, _SP_PAIRS)
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
            _not_dmarc(verification_token(p.bits, 41), "not_dmarc"),
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
        lambda p, a, f: (_not_dmarc(verification_token(p.bits, 42), "not_dmarc"),),
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
#: A tuple, in a fixed order: parents are drawn from it, and a set's order would change with
#: PYTHONHASHSEED, so that one seed gave other labs in other processes.
PARENT_ELIGIBLE = ("absent", "sp", *PARENT_VALID, *PARENT_INVALID)
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
    "own_record": (15, PARENT_ELIGIBLE, None),
    "token_inherits": (5, PARENT_VALID, "token_only"),
    "token_no_org_record": (5, ("absent",), "token_only"),
}

"""What a lab domain publishes at `_dmarc`: the DMARC cases.

Each builder writes the record's text and states what it holds, by RFC 7489 and by RFC 9989:
the tags as written, and the problem codes a correct parser finds (the RFC 9989 ones differ:
`p` is only RECOMMENDED, `pct`, `rf`, `ri` are gone, `np`, `psd`, `t` are new, the `!size` of
a report URI is obsolete)."""

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
    new: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    errors: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
    errors9989: tuple[str, ...] = (),
    warnings9989: tuple[str, ...] = (),
) -> DmarcText:
    """A well-ordered record (v, p, then the rest); `errors` names what is wrong on purpose.
    `new`: RFC 9989 tags (np, psd, t) and their values, unknown tags to RFC 7489."""
    new = new or {}
    tags = ["v=DMARC1", f"p={p}"] + ([f"sp={sp}"] if sp else []) + ([f"pct={pct}"] if pct else [])
    tags += [f"{name}={value}" for name, value in new.items()]
    tags += _uri_tags(rua, ruf, plan.bits) + list(extra)
    valid_pct = pct is not None and pct.isdigit() and int(pct) <= 100
    return DmarcText(
        strings=(_join(tags, plan.bits),),
        errors=errors,
        warnings=tuple(sorted({*warnings, *(["unknown_tag"] if new else [])})),
        p=p,
        sp=sp,
        pct=int(pct) if valid_pct and pct else None,
        p_valid=p in ("none", "quarantine", "reject"),
        sp_valid=sp in (None, "none", "quarantine", "reject"),
        rua=rua,
        ruf=ruf,
        np=new.get("np"),
        psd=new.get("psd"),
        t=new.get("t"),
        errors9989=errors9989,
        warnings9989=_warnings9989(warnings9989, rua + ruf, removed=bool(pct)),
    )


def _warnings9989(given: tuple[str, ...], uris: tuple[ReportUri, ...], removed: bool) -> tuple:
    """What RFC 9989 adds to a record's warnings: a `!size` suffix is obsolete syntax (§4.8),
    pct is a removed tag."""
    found = set(given)
    if any("!" in uri.uri for uri in uris):
        found.add("obsolete_size")
    if removed:
        found.add("removed_tag")
    return tuple(sorted(found))


def _split(record: DmarcText) -> DmarcText:
    """The record as two character-strings cut inside the p tag: "...p=rej" "ect; ..."."""
    text = record.strings[0]
    cut = text.index("p=") + 5
    return replace(record, strings=(text[:cut], text[cut:]))


def _not_dmarc(text: str, code: str) -> DmarcText:
    """A text both RFCs discard, for the same reason."""
    return DmarcText(strings=(text,), is_dmarc=False, errors=(code,), errors9989=(code,))


def _raw(plan: Plan, tags: list[str], **truth: object) -> DmarcText:
    record = DmarcText(strings=(_join(tags, plan.bits),), **truth)  # type: ignore[arg-type]
    sized = _warnings9989(record.warnings9989, record.rua + record.ruf, removed=False)
    return replace(record, warnings9989=sized)


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


#: (p, sp, np): np for the names that do not exist, sp (or p) for those that do.
_NP_TRIPLES = (
    ("none", "none", "reject"),
    ("quarantine", "quarantine", "reject"),
    ("reject", "none", "reject"),
    ("none", None, "quarantine"),
)


def _np_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    p, sp, np = pick(plan.bits, 34, _NP_TRIPLES)
    return _dmarc(plan, rua, ruf, p, sp=sp, new={"np": np})


def _psd_n_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    p = pick(plan.bits, 35, ("none", "quarantine", "reject"))
    return _dmarc(plan, rua, ruf, p, new={"psd": "n"})


def _test_mode_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    p = pick(plan.bits, 36, ("quarantine", "reject"))
    return _dmarc(plan, rua, ruf, p, new={"t": "y"})


def _no_p_record(plan: Plan, rua: tuple, ruf: tuple) -> DmarcText:
    """RFC 7489: p is required; RFC 9989: RECOMMENDED, and p=none when absent (§4.7)."""
    return _raw(
        plan,
        ["v=DMARC1", *_uri_tags(rua, ruf, plan.bits)],
        errors=("p_missing",),
        p_valid=False,
        rua=rua,
        ruf=ruf,
        warnings9989=("p_missing",),
    )


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
        lambda p, a, f: (
            _dmarc(
                p,
                a,
                f,
                "none",
                extra=("lang=en",),
                warnings=("unknown_tag",),
                warnings9989=("unknown_tag",),
            ),
        ),
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
        lambda p, a, f: (
            DmarcText(
                strings=("v=DMARC1",),
                errors=("p_missing",),
                p_valid=False,
                warnings9989=("p_missing",),
            ),
        ),
    ),
    "p_monitor": (
        0.3,
        True,
        lambda p, a, f: (
            _dmarc(p, a, f, "monitor", errors=("p_invalid",), errors9989=("p_invalid",)),
        ),
    ),
    "p_quarentena": (
        0.2,
        True,
        lambda p, a, f: (
            _dmarc(p, a, f, "quarentena", errors=("p_invalid",), errors9989=("p_invalid",)),
        ),
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
                errors9989=("tag_syntax",),  # the part is ignored (§4.8): no p, so p=none
                warnings9989=("p_missing",),
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
                p,
                ["v=DMARC1", "p=none", f"rua=dmarc@{p.name}"],
                errors=("rua_invalid",),
                p="none",
                errors9989=("rua_invalid",),
            ),
        ),
    ),
    "sp_invalid": (
        0.2,
        True,
        lambda p, a, f: (
            _dmarc(
                p, a, f, "reject", sp="monitor", errors=("sp_invalid",), errors9989=("sp_invalid",)
            ),
        ),
    ),
    "np": (0.8, True, lambda p, a, f: (_np_record(p, a, f),)),
    "psd_n": (0.4, True, lambda p, a, f: (_psd_n_record(p, a, f),)),
    "t_test": (0.5, True, lambda p, a, f: (_test_mode_record(p, a, f),)),
    "no_p": (0.3, True, lambda p, a, f: (_no_p_record(p, a, f),)),
    "leading_space": (  # RFC 7489 §6.4 / RFC 9989 §4.8: the record starts with "v"
        0.2,
        False,
        lambda p, a, f: (
            _not_dmarc(f" v=DMARC1; p=reject; rua=mailto:dmarc@{p.name}", "leading_whitespace"),
        ),
    ),
}

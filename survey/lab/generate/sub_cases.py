"""How a lab subdomain relates to the names above it: its organizational domain's DMARC case,
and for the RFC 9989 tree walk the records at names in between (the "sub cases"); and the one
public suffix record of the lab, `_dmarc.co.jp` with psd=y.

A sub case names the DMARC cases its parent may have, the subdomain's own DMARC case, where the
subdomain sits below its parent (`SUB_SHAPES`: right below it, below an intermediate name, or 9
and more labels deep) and what the names in between publish (`extra_records`).
"""

from survey.lab.generate.model import DmarcText, Plan

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
    "np",
    "psd_n",
    "t_test",
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
    "no_p",
)
#: Only text that is no DMARC record (RFC 7489: the organization's mistake, issue 12).
PARENT_NOT_DMARC = ("spf_at_dmarc", "token_only", "v_lowercase", "v_not_first", "leading_space")
#: A tuple, in a fixed order: parents are drawn from it, and a set's order would change with
#: PYTHONHASHSEED, so that one seed gave other labs in other processes.
PARENT_ELIGIBLE = ("absent", "sp", *PARENT_VALID, *PARENT_INVALID)
MISTAKES = frozenset(PARENT_INVALID) | {
    "spf_at_dmarc",
    "token_only",
    "multiple_records",
    "v_lowercase",
    "v_not_first",
    "leading_space",
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
    # RFC 7489 (issue 12): the organization's only text is no DMARC record, or two records
    "inherit_not_dmarc": (3, PARENT_NOT_DMARC, "absent"),
    "inherit_multiple": (2, ("multiple_records",), "absent"),
    # RFC 9989: several records at the domain's own name, discarded; the walk goes on
    "own_multiple": (2, PARENT_VALID, "multiple_records"),
    # RFC 9989: a name that does not exist (no record at or below it): np applies
    "nonexistent": (4, ("np",), "absent"),
    # RFC 9989 tree walk: records at a name between the subdomain and its parent
    "mid_record": (3, ("absent", *PARENT_VALID), "absent"),
    "mid_psd_n": (2, PARENT_VALID, "absent"),
    "mid_multiple": (2, PARENT_VALID, "absent"),
    # RFC 9989 §4.10 step 4: 9 or 10 labels, cut to 7 after the first question
    "deep_skip": (2, ("absent", *PARENT_VALID), "absent"),
    "deep_stop": (2, PARENT_VALID, "absent"),
}
#: The labels between a subdomain's own label and its parent's name (none: right below it).
SUB_SHAPES = {
    "mid_record": "corp",
    "mid_psd_n": "dept",
    "mid_multiple": "intra",
    "deep_skip": "b.c.d.e.f.g",
    "deep_stop": "h.i.j.k.l.m",
}

PSD_NAME = "co.jp"
#: A registry's record (RFC 9989 §4.7 psd, np): existing names under it get sp, names that do
#: not exist get np.
PSD_RECORD = DmarcText(
    strings=("v=DMARC1; p=reject; sp=none; np=reject; psd=y",),
    errors=(),
    warnings=("unknown_tag",),
    p="reject",
    sp="none",
    np="reject",
    psd="y",
)


def _record(text: str, p: str, sp: str | None = None, psd: str | None = None) -> DmarcText:
    """A record at a name in between, valid by both RFCs (RFC 7489 never asks for it)."""
    unknown = ("unknown_tag",) if psd else ()
    return DmarcText(strings=(text,), p=p, sp=sp, psd=psd, warnings=unknown)


def extra_records(plan: Plan) -> tuple[tuple[str, tuple[DmarcText, ...]], ...]:
    """The records a sub case puts at names between the subdomain and its parent:
    (name, the texts at `_dmarc.<name>`)."""
    labels = plan.name.split(".")
    if plan.sub == "mid_record":
        return ((f"corp.{plan.org}", (_record("v=DMARC1; p=quarantine", "quarantine"),)),)
    if plan.sub == "mid_psd_n":
        text = "v=DMARC1; p=none; sp=reject; psd=n"
        return ((f"dept.{plan.org}", (_record(text, "none", sp="reject", psd="n"),)),)
    if plan.sub == "mid_multiple":
        texts = (
            _record("v=DMARC1; p=reject; psd=n", "reject", psd="n"),
            _record("v=DMARC1; p=none", "none"),
        )
        return ((f"intra.{plan.org}", texts),)
    if plan.sub == "deep_skip":  # the 8-label name, which the walk must never ask
        text = "v=DMARC1; p=reject; psd=n"
        return ((".".join(labels[-8:]), (_record(text, "reject", psd="n"),)),)
    if plan.sub == "deep_stop":  # the 7-label name, the walk's second question
        text = "v=DMARC1; p=quarantine; psd=n"
        return ((".".join(labels[-7:]), (_record(text, "quarantine", psd="n"),)),)
    return ()

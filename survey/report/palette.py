"""One colour per category, the same on every chart, the trend and the deck.

The colours are Okabe and Ito's eight ("Color Universal Design", 2008), chosen to stay apart
with the common colour-vision deficiencies, plus one light grey for "nothing" (absent, neither,
no policy, other). A category keeps its colour wherever it is drawn: type A is bluish green in
the bars, the stacked 100% bar and the trend lines. A sampled policy (`pct` < 100) is hatched
(dashed in a trend) besides its own colour: lighter tints of the policy's colour were tried and
merged with the grey or with each other under deuteranopia and tritanopia.
`tests/test_palette.py` checks every table's colours stay apart under simulated protanopia,
deuteranopia and tritanopia.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

#: Okabe–Ito, by name (the hex values are theirs).
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
BLACK = "#000000"
OKABE_ITO = (ORANGE, SKY_BLUE, BLUISH_GREEN, YELLOW, BLUE, VERMILLION, REDDISH_PURPLE, BLACK)
NOTHING = "#BBBBBB"  # absent, neither, no policy: light grey, never a hue
UNRESOLVED = "#888888"  # a failed lookup: darker than NOTHING, it is not an absence


#: family:category → colour.
COLOURS: dict[str, str] = {
    # types A–F: DMARC valid = green / sky blue, invalid = orange / vermillion, none = purple / grey
    "type:A": BLUISH_GREEN,
    "type:B": ORANGE,
    "type:C": SKY_BLUE,
    "type:D": VERMILLION,
    "type:E": REDDISH_PURPLE,
    "type:F": NOTHING,
    "status:valid": BLUISH_GREEN,
    "status:invalid": VERMILLION,
    "status:multiple": REDDISH_PURPLE,
    "status:absent": NOTHING,
    # policies: reject the strongest (green, as a valid record), none the weakest (orange);
    # pct < 100 hatched, in a colour of its own
    "policy:none": ORANGE,
    "policy:quarantine": BLUE,
    "policy:quarantine_pct": SKY_BLUE,
    "policy:reject": BLUISH_GREEN,
    "policy:reject_pct": YELLOW,
    "policy:invalid": VERMILLION,
    "policy:missing": NOTHING,
    "policy:unset": NOTHING,
    "policy:no_policy": NOTHING,
    "report:A": BLUE,
    "report:B": SKY_BLUE,
    "report:C": REDDISH_PURPLE,
    "report:D": NOTHING,
    "all:-all": BLUISH_GREEN,
    "all:~all": SKY_BLUE,
    "all:?all": ORANGE,
    "all:+all": VERMILLION,
    "all:redirect": BLUE,
    "all:none": NOTHING,
    "vendor:self": REDDISH_PURPLE,
    "vendor:other": NOTHING,
    "vendor:*": BLUE,
    "problem:error": VERMILLION,
    "problem:warning": YELLOW,
    "count:resolved": BLUE,
    "count:unresolved": UNRESOLVED,
    # SPF evaluation: within the limits green, over them (a permerror) vermillion
    "spf_lookups:>10": VERMILLION,
    "spf_result:ok": BLUISH_GREEN,
    # why RFC 9989's verdict differs from RFC 7489's
    "difference:psd_policy": REDDISH_PURPLE,
    "difference:missing_p": VERMILLION,
    "difference:pct_t": ORANGE,
    "difference:tree_walk_org": BLUE,
    "difference:other": NOTHING,
    # RFC 9989 tags
    "tag:np": BLUISH_GREEN,
    "tag:psd=y": REDDISH_PURPLE,
    "tag:psd=n": SKY_BLUE,
    "tag:psd=u": NOTHING,
    "tag:t=y": ORANGE,
    "tag:t=n": NOTHING,
    # DKIM keys in DNS: keys found as a valid record (green), _domainkey without a listed
    # selector sky blue, no _domainkey grey; revoked keys purple, testing ones yellow (a warning)
    "dkim:found": BLUISH_GREEN,
    "dkim:none_found": SKY_BLUE,
    "dkim:absent": NOTHING,
    "dkim_state:revoked": REDDISH_PURPLE,
    "dkim_state:testing": YELLOW,
    # mail flows: the author's own signature or an aligned pass as a valid record (green),
    # failures vermillion, nothing grey
    "flow_dkim:self": BLUISH_GREEN,
    "flow_dkim:third_party": BLUE,
    "flow_dkim:fail": VERMILLION,
    "flow_dkim:unsigned": NOTHING,
    "flow_spf:aligned": BLUISH_GREEN,
    "flow_spf:unaligned": SKY_BLUE,
    "flow_spf:fail": VERMILLION,
    "flow_spf:none": NOTHING,
    "flow_dmarc:pass": BLUISH_GREEN,
    "flow_dmarc:fail": VERMILLION,
    "flow_verdicts:both_pass": BLUISH_GREEN,
    "flow_verdicts:only_ours_pass": ORANGE,
    "flow_verdicts:only_receiver_pass": SKY_BLUE,
    "flow_verdicts:both_fail": VERMILLION,
    "flow_disposition:none": ORANGE,  # delivered as p=none asks: as the policy none
    "flow_disposition:pass": BLUISH_GREEN,
    "flow_disposition:quarantine": BLUE,  # as the policy quarantine
    "flow_disposition:reject": REDDISH_PURPLE,
}
#: `dkim_by_type` keys, a type A–F and a DKIM verdict (`A/found`): the DKIM verdict's colour.
COLOURS.update(
    {
        f"dkim_type:{kind}/{status}": COLOURS[f"dkim:{status}"]
        for kind in "ABCDEF"
        for status in ("found", "none_found", "absent")
    }
)
#: Every permerror reason of the SPF evaluation in the colour of an error.
COLOURS.update(
    {
        f"spf_result:{reason}": VERMILLION
        for reason in (
            "syntax", "multiple_records", "too_many_lookups", "too_many_void_lookups",
            "include_loop", "redirect_loop", "include_no_spf", "redirect_no_spf",
            "include_permerror", "too_many_mx",
        )
    }
)  # fmt: skip
#: Categories drawn hatched (bars) or dashed (lines) besides their colour.
SAMPLED = frozenset({"policy:quarantine_pct", "policy:reject_pct"})
HATCH = "//"

#: Table name → colour family of its categories.
FAMILY: dict[str, str] = {
    "types": "type",
    "types_top": "type",
    "dmarc_status": "status",
    "spf_status": "status",
    "policy_p": "policy",
    "policy_effective": "policy",
    "policy_effective_9989": "policy",
    "rfc_differences": "difference",
    "rfc9989_tags": "tag",
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
#: Lines of open categories (vendors over time): Okabe–Ito without the colour of `self`, and
#: without yellow (a thin line of it is faint on white).
SERIES = (BLUE, ORANGE, BLUISH_GREEN, SKY_BLUE, VERMILLION, BLACK)


def colour_of(table_name: str, key: str) -> str:
    """The fixed colour of category `key` in table `table_name`."""
    family = FAMILY.get(table_name, "vendor")
    return COLOURS.get(f"{family}:{key}", COLOURS["vendor:*"])


def is_sampled(table_name: str, key: str) -> bool:
    return f"{FAMILY.get(table_name, '')}:{key}" in SAMPLED


def series_colours(table_name: str, keys: Sequence[str]) -> list[tuple[str, bool]]:
    """(colour, dashed) of each line of a trend. Fixed categories keep their colour; an open one
    (a vendor) takes a colour from its name, so it keeps it from chart to chart when it can,
    else the next free one; once every colour is taken, lines repeat them dashed."""
    family = FAMILY.get(table_name, "vendor")
    chosen: list[tuple[str, bool]] = []
    taken: set[str] = set()
    for key in keys:
        fixed = COLOURS.get(f"{family}:{key}")
        if fixed is not None:
            chosen.append((fixed, f"{family}:{key}" in SAMPLED))
            taken.add(fixed)
            continue
        start = zlib.crc32(key.encode("utf-8", "surrogatepass")) % len(SERIES)
        ring = [SERIES[(start + step) % len(SERIES)] for step in range(len(SERIES))]
        free = [colour for colour in ring if colour not in taken]
        chosen.append((free[0], False) if free else (ring[0], True))
        taken.add(chosen[-1][0])
    return chosen


def text_colour_on(fill: str) -> str:
    """Black or white, whichever reads better on `fill` (WCAG relative luminance)."""
    channels = [int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with black (L+0.05)/0.05 beats contrast with white 1.05/(L+0.05) above L≈0.18.
    return "#000000" if luminance > 0.179 else "#FFFFFF"

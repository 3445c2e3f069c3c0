"""What a lab domain publishes as SPF: the SPF cases."""

from collections.abc import Callable

from survey.lab.generate.model import Plan, SpfTruth, mix, pick, verification_token

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


def _mechanisms(plan: Plan) -> str:
    """One to three short terms, so that short records stay well under 300 octets."""
    terms = [f"include:{pick(plan.bits, 51 + i, INCLUDES)}" for i in range(mix(plan.bits, 50) % 3)]
    terms += [pick(plan.bits, 54, ("mx", "a mx", "ip4:203.0.113.17", "ip4:198.51.100.0/24"))]
    return " ".join(dict.fromkeys(terms))


def _ip4_terms(plan: Plan, count: int) -> str:
    first = mix(plan.bits, 55)
    return " ".join(
        f"ip4:{45 + (first + k) % 150}.{(first >> 8) % 256}.{k % 256}.0/24" for k in range(count)
    )


def _spf(plan: Plan, record: str, **truth: object) -> SpfTruth:
    """A single SPF record, sometimes beside a verification token (ignored by SPF, §4.5)."""
    texts: tuple[str, ...] = (record,)
    if len(record) < 200 and mix(plan.bits, 56) % 10 < 3:
        texts += (verification_token(plan.bits, 57),)
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
            f"v=spf1 {_ip4_terms(p, 36 + mix(p.bits, 58) % 10)} -all",
            all="-all",
            warnings=("record_over_512",),
        ),
    ),
    "over_1232": (
        0.6,
        lambda p: _spf(
            p,
            f"v=spf1 {_ip4_terms(p, 75 + mix(p.bits, 59) % 15)} ~all",
            all="~all",
            warnings=("record_over_512",),
        ),
    ),
}

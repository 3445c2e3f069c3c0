"""What a lab domain publishes as SPF: the SPF cases.

Each record is built from terms (`spf_trees.Rec`), so that the generator can evaluate what it
wrote (`spf_trees.evaluate`) without reading its own text back. Besides the record at `<d>`, a
case may publish names below `<d>` (its own include and redirect targets), A records (for `a`)
and MX records (for `mx`); the providers' trees (`spf_trees.PROVIDERS`) are in the zone once.
The failure cases are those a receiver's evaluation stops at (issue 17): more than 10 lookups,
more than 2 void lookups, loops, targets without SPF, an invalid included record, an `mx` of
more than 10 names; and macros, counted but not asked.
"""

from collections.abc import Callable, Mapping

from survey.lab.generate.model import Plan, SpfTruth, mix, pick, verification_token
from survey.lab.generate.spf_trees import Rec, Term, spf_rec

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
ALL = (("-all", ""),)


def _mechanisms(plan: Plan) -> tuple[Term, ...]:
    """One to three short terms, so that short records stay well under 300 octets."""
    count = mix(plan.bits, 50) % 3
    terms: list[Term] = [("include", pick(plan.bits, 51 + i, INCLUDES)) for i in range(count)]
    terms += pick(plan.bits, 54, _OWN)
    return tuple(dict.fromkeys(terms))


_OWN: tuple[tuple[Term, ...], ...] = (
    (("mx", ""),),
    (("a", ""), ("mx", "")),
    (("ip4", "203.0.113.17"),),
    (("ip4", "198.51.100.0/24"),),
)


def _ip4_terms(plan: Plan, count: int) -> tuple[Term, ...]:
    first = mix(plan.bits, 55)
    return tuple(
        ("ip4", f"{45 + (first + k) % 150}.{(first >> 8) % 256}.{k % 256}.0/24")
        for k in range(count)
    )


def _hosts(plan: Plan, terms: tuple[Term, ...], mx_names: int = 0) -> dict[str, object]:
    """The A and MX records a record's own `a` and `mx` terms find at the domain."""
    found: dict[str, object] = {}
    names = {name for name, argument in terms if not argument}
    if "a" in names:
        found["a"] = (plan.name,)
    if "mx" in names:
        count = mx_names or 1 + mix(plan.bits, 62) % 2
        found["mx"] = ((plan.name, tuple(f"mx{k + 1}.{plan.name}" for k in range(count))),)
    return found


def _spf(plan: Plan, *terms: Term, **truth: object) -> SpfTruth:
    """A single SPF record, sometimes beside a verification token (ignored by SPF, §4.5)."""
    record = spf_rec(*terms, valid=not truth.get("errors"))
    texts: tuple[Rec, ...] = (record,)
    if len(record.text) < 200 and mix(plan.bits, 56) % 10 < 3:
        texts += (Rec(verification_token(plan.bits, 57)),)
    return SpfTruth(records=texts, **{"status": "valid", **_hosts(plan, terms), **truth})  # type: ignore[arg-type]


def _with(
    plan: Plan, *terms: Term, names: Mapping[str, tuple[Rec, ...]], **truth: object
) -> SpfTruth:
    """A single SPF record and the names below the domain it reaches."""
    own = tuple((f"{label}.{plan.name}", recs) for label, recs in names.items())
    return _spf(plan, *terms, names=own, **truth)


def _over_10(plan: Plan) -> SpfTruth:
    """A realistic record over the limit: the big providers together, and a and mx."""
    providers = tuple(("include", name) for name in INCLUDES[:6])
    terms = (*providers, ("a", ""), ("mx", ""), ("~all", ""))
    return _spf(plan, *terms, all="~all")


def _wide(plan: Plan) -> SpfTruth:
    """23 lookups, nested as they grow in practice (three own includes of six each, a and mx):
    counted past the limit, not stopped at 11."""
    leaf = (spf_rec(*_ip4_terms(plan, 1), ("-all", "")),)
    names: dict[str, tuple[Rec, ...]] = {}
    for k in range(3):
        below = tuple(("include", f"t{j}.s{k}._spf.{plan.name}") for j in range(6))
        names[f"s{k}._spf"] = (spf_rec(*below, ("-all", "")),)
        names.update({f"t{j}.s{k}._spf": leaf for j in range(6)})
    terms = (*(("include", f"s{k}._spf.{plan.name}") for k in range(3)), ("a", ""), ("mx", ""))
    return _with(plan, *terms, *ALL, names=names, all="-all")


def _voids(plan: Plan) -> SpfTruth:
    """Three names that do not exist: the third void lookup is a permerror."""
    terms = tuple(("a", f"gone{k}.{plan.name}") for k in range(3)) + ALL
    return _spf(plan, *terms, all="-all")


def _include_loop(plan: Plan) -> SpfTruth:
    back = (spf_rec(("include", plan.name), ("-all", "")),)
    return _with(plan, ("include", f"_spf.{plan.name}"), *ALL, names={"_spf": back}, all="-all")


def _redirect_loop(plan: Plan) -> SpfTruth:
    names = {
        "_spf": (spf_rec(("redirect", f"_spf2.{plan.name}")),),
        "_spf2": (spf_rec(("redirect", f"_spf.{plan.name}")),),
    }
    return _with(plan, ("redirect", f"_spf.{plan.name}"), names=names, all="redirect")


def _include_missing(plan: Plan) -> SpfTruth:
    return _spf(plan, ("include", f"_spf.{plan.name}"), ("include", "_spf.google.com"), *ALL,
                all="-all")  # fmt: skip


def _include_token(plan: Plan) -> SpfTruth:
    token = (Rec(verification_token(plan.bits, 63)),)
    terms = (("include", "_spf.google.com"), ("include", f"_spf.{plan.name}"), *ALL)
    return _with(plan, *terms, names={"_spf": token}, all="-all")


def _redirect_missing(plan: Plan) -> SpfTruth:
    return _spf(plan, ("redirect", f"_spf.{plan.name}"), all="redirect")


def _include_invalid(plan: Plan) -> SpfTruth:
    broken = (spf_rec(("ip4", "192.0.2.300"), ("-all", ""), valid=False),)
    terms = (("include", "servers.mcsv.net"), ("include", f"_spf.{plan.name}"), *ALL)
    return _with(plan, *terms, names={"_spf": broken}, all="-all")


def _mx_farm(plan: Plan) -> SpfTruth:
    found = _spf(plan, ("mx", ""), *ALL, all="-all")
    farm = ((plan.name, tuple(f"mx{k}.{plan.name}" for k in range(11 + mix(plan.bits, 64) % 4))),)
    return SpfTruth(found.records, found.status, found.all, mx=farm)


def _macros(plan: Plan) -> SpfTruth:
    terms = (
        ("include", "%{ir}.%{v}._spf.example-esp.net"),
        ("exists", "%{i}._spf.%{d}"),
        ("include", "spf.protection.outlook.com"),
        ("-all", ""),
    )
    return _spf(plan, *terms, all="-all")


def _redirected(plan: Plan) -> SpfTruth:
    """A redirect to the domain's own `_spf` name, which includes a provider."""
    provider = pick(plan.bits, 65, INCLUDES)
    target = (spf_rec(("include", provider), ("ip4", "192.0.2.7"), ("~all", "")),)
    return _with(plan, ("redirect", f"_spf.{plan.name}"), names={"_spf": target}, all="redirect")


def _multiple(plan: Plan) -> SpfTruth:
    first = spf_rec(*_mechanisms(plan), ("~all", ""))
    second = spf_rec(("include", "spf.protection.outlook.com"), ("-all", ""))
    return SpfTruth(records=(first, second), status="invalid", errors=("multiple_records",))


SpfBuilder = Callable[[Plan], SpfTruth]
#: SPF case → (weight, builder). Long records hold only ip4 terms: > 512 octets of text (warning
#: `record_over_512`), the very long ones > 1232 so that even EDNS answers truncate.
SPF_CASES: dict[str, tuple[float, SpfBuilder]] = {
    "absent": (24, lambda p: SpfTruth()),
    "softfail": (33, lambda p: _spf(p, *_mechanisms(p), ("~all", ""), all="~all")),
    "fail": (20, lambda p: _spf(p, *_mechanisms(p), *ALL, all="-all")),
    "neutral": (3, lambda p: _spf(p, *_mechanisms(p), ("?all", ""), all="?all")),
    "plus_all": (
        0.8,
        lambda p: _spf(p, *_mechanisms(p), ("+all", ""), all="+all", warnings=("plus_all",)),
    ),
    "redirect": (3, _redirected),
    "no_all": (2, lambda p: _spf(p, *_mechanisms(p), all="none", warnings=("no_all",))),
    "multiple_records": (1.5, _multiple),
    "ptr": (
        1,
        lambda p: _spf(
            p, ("ptr", ""), *_mechanisms(p), ("~all", ""), all="~all", warnings=("ptr_mechanism",)
        ),
    ),
    "unknown_mechanism": (
        0.6,
        lambda p: _spf(
            p,
            *_mechanisms(p),
            ("ipv4", "192.0.2.10"),
            *ALL,
            all="-all",
            status="invalid",
            errors=("unknown_term",),
        ),
    ),
    "bad_ip4": (
        0.6,
        lambda p: _spf(
            p,
            ("ip4", "192.0.2.300"),
            *_mechanisms(p),
            *ALL,
            all="-all",
            status="invalid",
            errors=("mechanism_syntax",),
        ),
    ),
    "over_512": (
        1.2,
        lambda p: _spf(
            p,
            *_ip4_terms(p, 36 + mix(p.bits, 58) % 10),
            *ALL,
            all="-all",
            warnings=("record_over_512",),
        ),
    ),
    "over_1232": (
        0.6,
        lambda p: _spf(
            p,
            *_ip4_terms(p, 75 + mix(p.bits, 59) % 15),
            ("~all", ""),
            all="~all",
            warnings=("record_over_512",),
        ),
    ),
    # issue 17: what a receiver's evaluation stops at
    "lookups_over_10": (1.5, _over_10),
    "lookups_23": (0.3, _wide),
    "void_over_2": (0.5, _voids),
    "include_loop": (0.2, _include_loop),
    "redirect_loop": (0.2, _redirect_loop),
    "include_missing": (0.8, _include_missing),
    "include_token": (0.3, _include_token),
    "redirect_missing": (0.3, _redirect_missing),
    "include_invalid": (0.3, _include_invalid),
    "mx_over_10": (0.2, _mx_farm),
    "macros": (0.5, _macros),
}

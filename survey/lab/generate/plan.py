"""Planning a lab: every domain's name and cases, and the same lab months later."""

import bisect
import random
from collections import Counter
from dataclasses import replace

from survey.errors import LabError
from survey.lab.generate.dkim_cases import DKIM_CASES
from survey.lab.generate.dmarc_cases import DMARC_CASES
from survey.lab.generate.model import Plan, pick
from survey.lab.generate.reports import REPORT_CASES
from survey.lab.generate.spf_cases import SPF_CASES
from survey.lab.generate.sub_cases import MISTAKES, SUB_CASES, SUB_SHAPES

MIN_PER_CASE = 5
SUB_SHARE = 0.08  # enough for MIN_PER_CASE of each sub case from 2,000 domains on
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

SUB_LABELS = ("mail", "news", "email", "info", "shop", "marketing", "em", "send")
SUFFIXES = (("com", 50), ("net", 7), ("org", 7), ("co.uk", 8), ("jp", 6), ("co.jp", 8), ("de", 14))


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
        names.append((f"{pick(bits, 1, WORDS)}{index}.{suffixes.draw(rng)}", bits))
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
    return _with_dkim(_with_reports_and_spf(rows, rng), seed)


def _with_dkim(plans: list[Plan], seed: int) -> list[Plan]:
    """The DKIM case of every domain that exists, drawn apart (its own random stream), so that
    the other dimensions stay what they were before the lab had DKIM."""
    rng = random.Random(f"{seed}/dkim")
    publishing = [i for i, plan in enumerate(plans) if plan.sub != "nonexistent"]
    cases = _Weighted({case: spec[0] for case, spec in DKIM_CASES.items()})
    for index, (case, _) in zip(publishing, cases.assign(len(publishing), rng), strict=True):
        plans[index] = replace(plans[index], dkim=case)
    return plans


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
        shape = SUB_SHAPES.get(case)
        name = f"{label}.{shape}.{orgs[parent][0]}" if shape else f"{label}.{orgs[parent][0]}"
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
    # a name that must not exist publishes no SPF either
    publishing = [i for i, row in enumerate(rows) if row[3] != "nonexistent"]
    spfs: list[tuple[str, bool]] = [("absent", False)] * len(rows)
    for index, assigned in zip(publishing, spf_cases.assign(len(publishing), rng), strict=True):
        spfs[index] = assigned
    plans = []
    for row, (report, r_res), (spf, s_res) in zip(rows, reports, spfs, strict=True):
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
        plans = _new_dkim(plans, rng)
    return plans


def _new_dkim(plans: list[Plan], rng: random.Random) -> list[Plan]:
    """A month's new DKIM adopters: a few domains without keys start signing with a provider
    (the draws come after the month's other changes, which they leave as they were)."""
    return [
        replace(plan, dkim=rng.choice(("m365", "google", "rsa2048")))
        if plan.dkim == "absent" and plan.sub != "nonexistent" and rng.random() < 0.02
        else plan
        for plan in plans
    ]


def _change(plan: Plan, is_parent: bool, rng: random.Random, reports: _Weighted) -> Plan:
    if plan.sub == "nonexistent":  # stays out of the DNS
        return plan
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

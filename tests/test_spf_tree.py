"""SPF evaluation as a receiver does it (survey/verdict/spf_eval.py rules, survey/scan/spf_tree.py
asking): lookup and void counts over the whole tree, the first failure in evaluation order,
and each target asked and evaluated once per run."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from survey.dns.loop import run
from survey.dns.outcome import TxtAnswer
from survey.scan.spf_tree import SpfTrees
from survey.schema.values import Outcome, SpfResult, SpfResultReason

OK, NX, NODATA, TIMEOUT = Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA, Outcome.TIMEOUT
R = SpfResultReason


class Zone:
    """A resolver over a dict: TXT texts, A names, MX name counts; everything else NXDOMAIN.
    Counts every question, to show what is asked once."""

    def __init__(self, txt=None, a=(), mx=None, failing=()) -> None:
        self.texts = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in (txt or {}).items()}
        self.a, self.mx_names, self.failing = set(a), dict(mx or {}), set(failing)
        self.asked: Counter[str] = Counter()

    async def txt(self, name: str) -> TxtAnswer:
        self.asked[f"TXT {name}"] += 1
        await asyncio.sleep(0)
        if name in self.failing:
            return TxtAnswer(name, TIMEOUT)
        if name in self.texts:
            return TxtAnswer(name, OK, self.texts[name])
        return TxtAnswer(name, NODATA if name in self.a or name in self.mx_names else NX)

    async def address(self, name: str) -> Outcome:
        self.asked[f"A {name}"] += 1
        if name in self.failing:
            return TIMEOUT
        return OK if name in self.a else (NODATA if name in self.texts else NX)

    async def mx(self, name: str) -> tuple[Outcome, int]:
        self.asked[f"MX {name}"] += 1
        if name in self.failing:
            return TIMEOUT, 0
        count = self.mx_names.get(name, 0)
        return (OK, count) if count else (NODATA if name in self.texts else NX, 0)


def evaluate(zone: Zone, domain: str = "example.com", trees: SpfTrees | None = None):
    trees = trees or SpfTrees(zone)
    answer = TxtAnswer(domain, OK, zone.texts[domain]) if domain in zone.texts else None
    return run(trees.evaluate(domain, answer or TxtAnswer(domain, NX)))


PROVIDER = {
    "_spf.google.com": "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com ~all",
    "_netblocks.google.com": "v=spf1 ip4:35.190.247.0/24 ~all",
    "_netblocks2.google.com": "v=spf1 ip6:2001:4860:4000::/36 ~all",
}


def chain(n: int) -> dict[str, str]:
    """d0 includes d1 includes … d(n-1): with the top's include of d0, n lookups."""
    texts = {f"d{i}.test": f"v=spf1 include:d{i + 1}.test -all" for i in range(n - 1)}
    texts[f"d{n - 1}.test"] = "v=spf1 ip4:192.0.2.1 -all"
    return texts


@pytest.mark.parametrize(
    ("record", "extra", "lookups", "voids", "result", "reason"),
    [
        ("v=spf1 -all", {}, 0, 0, SpfResult.OK, None),
        ("v=spf1 include:_spf.google.com ~all", PROVIDER, 3, 0, SpfResult.OK, None),
        ("v=spf1 a mx ip4:192.0.2.0/24 -all", {}, 2, 0, SpfResult.OK, None),
        ("v=spf1 a:nothing.test -all", {}, 1, 1, SpfResult.OK, None),
        ("v=spf1 a:n1.test a:n2.test a:n3.test -all", {}, 3, 3, SpfResult.PERMERROR,
         R.TOO_MANY_VOID_LOOKUPS),
        ("v=spf1 include:d0.test -all", chain(11), 11, 0, SpfResult.PERMERROR,
         R.TOO_MANY_LOOKUPS),
        ("v=spf1 include:d0.test -all", chain(10), 10, 0, SpfResult.OK, None),
        ("v=spf1 include:missing.test -all", {}, 1, 1, SpfResult.PERMERROR, R.INCLUDE_NO_SPF),
        ("v=spf1 include:token.test -all", {"token.test": "google-site-verification=x"}, 1, 0,
         SpfResult.PERMERROR, R.INCLUDE_NO_SPF),
        ("v=spf1 redirect=missing.test", {}, 1, 1, SpfResult.PERMERROR, R.REDIRECT_NO_SPF),
        ("v=spf1 include:bad.test -all", {"bad.test": "v=spf1 ip4:999.1.1.1 -all"}, 1, 0,
         SpfResult.PERMERROR, R.INCLUDE_PERMERROR),
        ("v=spf1 redirect=bad.test", {"bad.test": "v=spf1 ip4:999.1.1.1 -all"}, 1, 0,
         SpfResult.PERMERROR, R.SYNTAX),
        ("v=spf1 include:example.com -all", {}, 1, 0, SpfResult.PERMERROR, R.INCLUDE_LOOP),
        ("v=spf1 redirect=loop.test", {"loop.test": "v=spf1 redirect=example.com"}, 2, 0,
         SpfResult.PERMERROR, R.REDIRECT_LOOP),
        ("v=spf1 mx:big.test -all", {}, 1, 0, SpfResult.PERMERROR, R.TOO_MANY_MX),
        ("v=spf1 include:slow.test -all", {}, 1, 0, SpfResult.TEMPERROR, None),
        ("v=spf1 ip4:192.0.2.1 ip4:300.0.0.1 include:_spf.google.com -all", PROVIDER, 3, 0,
         SpfResult.PERMERROR, R.SYNTAX),
        # §6.1: redirect is ignored beside all; §5.1: terms after all are never reached
        ("v=spf1 -all redirect=missing.test include:missing.test", {}, 0, 0, SpfResult.OK, None),
        ("v=spf1 exists:%{i}.rbl.test ptr -all", {}, 2, 0, SpfResult.OK, None),
    ],
)  # fmt: skip
def test_trees(record, extra, lookups, voids, result, reason) -> None:
    zone = Zone({"example.com": record, **extra}, a={"example.com"}, failing={"slow.test"},
                mx={"example.com": 2, "big.test": 11})  # fmt: skip
    found = evaluate(zone)
    assert (found.lookups, found.voids, found.result, found.reason) == (
        lookups, voids, result, reason)  # fmt: skip


def test_counting_goes_on_past_the_first_limit() -> None:
    wide = " ".join(f"include:d{i}.test" for i in range(23))
    texts = {f"d{i}.test": "v=spf1 ip4:192.0.2.1 -all" for i in range(23)}
    found = evaluate(Zone({"example.com": f"v=spf1 {wide} -all", **texts}))
    assert (found.lookups, found.result, found.reason) == (23, SpfResult.PERMERROR,
                                                           R.TOO_MANY_LOOKUPS)  # fmt: skip
    assert found.includes == tuple(f"d{i}.test" for i in range(23))


def test_the_first_condition_met_in_evaluation_order_is_the_reason() -> None:
    early = "v=spf1 include:missing.test include:d0.test -all"
    late = "v=spf1 include:d0.test include:missing.test -all"
    zone = {**chain(11), "example.com": early}
    assert evaluate(Zone(zone)).reason is R.INCLUDE_NO_SPF
    assert evaluate(Zone({**zone, "example.com": late})).reason is R.TOO_MANY_LOOKUPS


def test_nested_includes_are_listed_and_macros_marked() -> None:
    zone = Zone({"example.com": "v=spf1 include:_spf.google.com exists:%{l}.x.test -all",
                 **PROVIDER})  # fmt: skip
    found = evaluate(zone)
    assert found.includes == ("_spf.google.com", "_netblocks.google.com", "_netblocks2.google.com")
    assert found.unasked == 1 and zone.asked["A %{l}.x.test"] == 0


def test_a_shared_target_is_asked_and_evaluated_once_per_run() -> None:
    texts = {f"d{i}.example": "v=spf1 include:_spf.google.com -all" for i in range(50)}
    zone = Zone({**texts, **PROVIDER})
    trees = SpfTrees(zone)

    async def all_domains():
        answers = [TxtAnswer(d, OK, (t,)) for d, t in texts.items()]
        return await asyncio.gather(*(trees.evaluate(a.name, a) for a in answers))

    results = run(all_domains())
    assert {(r.lookups, r.result) for r in results} == {(3, SpfResult.OK)}
    assert zone.asked["TXT _spf.google.com"] == 1
    assert zone.asked["TXT _netblocks.google.com"] == 1


def test_a_loop_is_judged_from_each_domain_not_from_a_cached_subtree() -> None:
    zone = Zone({"a.test": "v=spf1 include:b.test -all", "b.test": "v=spf1 include:a.test -all"})
    trees = SpfTrees(zone)
    from_a = evaluate(zone, "a.test", trees)
    from_b = evaluate(zone, "b.test", trees)
    assert (from_a.lookups, from_a.reason) == (2, R.INCLUDE_LOOP)
    assert (from_b.lookups, from_b.reason) == (2, R.INCLUDE_LOOP)
    assert from_a.includes == ("b.test", "a.test") and from_b.includes == ("a.test", "b.test")


def test_failures_are_asked_again_and_temperror_is_never_ok() -> None:
    zone = Zone({"example.com": "v=spf1 include:slow.test -all"}, failing={"slow.test"})
    trees = SpfTrees(zone)
    assert evaluate(zone, trees=trees).result is SpfResult.TEMPERROR
    assert evaluate(zone, trees=trees).result is SpfResult.TEMPERROR
    assert zone.asked["TXT slow.test"] == 2


def test_no_single_record_gives_no_counts() -> None:
    none = evaluate(Zone({"example.com": "hello"}))
    assert (none.lookups, none.result) == (None, None)
    several = evaluate(Zone({"example.com": ["v=spf1 -all", "v=spf1 ~all"]}))
    assert (several.lookups, several.result, several.reason) == (
        None, SpfResult.PERMERROR, R.MULTIPLE_RECORDS)  # fmt: skip


def test_an_exploding_tree_is_bounded() -> None:
    texts = {f"l{d}.test": " ".join(["v=spf1", *[f"include:l{d + 1}.test"] * 10, "-all"])
             for d in range(8)}  # fmt: skip
    texts["l8.test"] = "v=spf1 -all"
    found = evaluate(Zone({"example.com": "v=spf1 include:l0.test -all", **texts}))
    assert found.result is SpfResult.PERMERROR and found.lookups is not None
    assert 10 < found.lookups <= 10_000


def test_evaluations_that_need_each_other_do_not_wait_for_each_other() -> None:
    """a includes b, b includes a, each evaluated for a domain of its own at the same time:
    neither waits for the other's unfinished subtree (they share answers, not subtrees)."""
    zone = Zone({"d1.test": "v=spf1 include:a.test -all", "d2.test": "v=spf1 include:b.test -all",
                 "a.test": "v=spf1 include:b.test -all",
                 "b.test": "v=spf1 include:a.test -all"})  # fmt: skip
    trees = SpfTrees(zone)

    async def both():
        answers = [TxtAnswer(d, OK, zone.texts[d]) for d in ("d1.test", "d2.test")]
        together = asyncio.gather(*(trees.evaluate(a.name, a) for a in answers))
        return await asyncio.wait_for(together, 5)

    found = run(both())
    assert [(f.lookups, f.reason) for f in found] == [(3, R.INCLUDE_LOOP)] * 2
    assert zone.asked["TXT a.test"] == 1 and zone.asked["TXT b.test"] == 1


def test_a_tree_of_loops_everywhere_is_bounded() -> None:
    """Twelve names each including the eleven others: every subtree depends on its path, so
    none is kept; the evaluation still ends, past the limit, having followed at most
    MAX_TARGETS targets."""
    names = [f"n{i}.test" for i in range(12)]
    texts = {n: " ".join(["v=spf1", *(f"include:{m}" for m in names if m != n), "-all"])
             for n in names}  # fmt: skip
    zone = Zone({"example.com": "v=spf1 include:n0.test -all", **texts})
    found = evaluate(zone)
    assert found.result is SpfResult.PERMERROR and found.reason is R.INCLUDE_LOOP  # n1 → n0
    assert 10 < found.lookups <= 10_000
    assert sum(zone.asked.values()) == 12  # each name asked once


def test_macro_targets_are_listed_as_written_and_bad_names_never_asked() -> None:
    zone = Zone({"example.com": "v=spf1 include:%{ir}._spf.x.test a:bad..name include: -all"})
    found = evaluate(zone)
    assert found.includes == ("%{ir}._spf.x.test",)
    assert (found.lookups, found.unasked, found.result) == (3, 3, SpfResult.PERMERROR)
    assert sum(zone.asked.values()) == 0


def test_address_and_mx_answers_are_kept_for_the_run() -> None:
    zone = Zone({f"d{i}.test": "v=spf1 a:relay.test mx:relay.test -all" for i in range(5)},
                a={"relay.test"}, mx={"relay.test": 2})  # fmt: skip
    trees = SpfTrees(zone)
    found = [evaluate(zone, f"d{i}.test", trees) for i in range(5)]
    assert {(f.lookups, f.voids, f.result) for f in found} == {(2, 0, SpfResult.OK)}
    assert zone.asked["A relay.test"] == 1 and zone.asked["MX relay.test"] == 1
    assert trees.counts.questions == Counter({"A ok": 1, "MX ok": 1})


def test_a_known_tree_is_evaluated_without_a_task() -> None:
    zone = Zone({"example.com": "v=spf1 include:_spf.google.com ~all", **PROVIDER})
    trees = SpfTrees(zone)
    first = evaluate(zone, trees=trees)

    async def second():
        return trees.begin("example.com", TxtAnswer("example.com", OK, zone.texts["example.com"]))

    again = run(second())
    assert again == first and (again.lookups, again.result) == (3, SpfResult.OK)
    assert trees.counts.targets == 3 and trees.counts.records == 1  # the text judged once


def test_the_traced_tree_counts_each_term() -> None:
    record = "v=spf1 include:_spf.google.com a:gone.test ptr include:missing.test -all"
    zone = Zone({"example.com": record, **PROVIDER})
    trees = SpfTrees(zone, trace=True)
    found = evaluate(zone, trees=trees)
    top = trees.traces["example.com"]
    assert (top.lookups, top.voids, top.note) == (found.lookups, found.voids, "include_no_spf")
    google, gone, ptr, missing = top.children
    assert (google.term, google.name, google.lookups, len(google.children)) == (
        "include", "_spf.google.com", 3, 2)  # fmt: skip
    assert (gone.lookups, gone.voids, gone.note) == (1, 1, "void")
    assert ptr.note.startswith("not asked")
    assert (missing.voids, missing.note) == (1, "void (nxdomain)")


def test_a_failed_lookup_after_a_permerror_still_leaves_the_columns_unresolved() -> None:
    """A receiver stops at the 11th lookup; the tree's count needs the failed include too."""
    zone = Zone({**chain(11), "example.com": "v=spf1 include:d0.test include:slow.test -all"},
                failing={"slow.test"})  # fmt: skip
    found = evaluate(zone)
    assert (found.result, found.reason, found.lookups) == (SpfResult.TEMPERROR, None, 12)


def test_a_record_naming_its_own_domain_is_judged_per_domain() -> None:
    """`v=spf1 a mx -all` asks each domain's own names: never taken from another domain; a
    text without such a term is judged once."""
    zone = Zone({"b.test": "v=spf1 a mx -all", "c.test": "v=spf1 a mx -all"},
                a={"b.test"}, mx={"b.test": 1})  # fmt: skip
    trees = SpfTrees(zone)
    at_b, at_c = evaluate(zone, "b.test", trees), evaluate(zone, "c.test", trees)
    assert (at_b.voids, at_c.voids) == (0, 2) and trees.counts.records == 0

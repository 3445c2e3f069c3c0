"""One domain's DKIM verdict from its answers (survey/verdict/dkim.py): pure, table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest
from keys import rsa_key

from survey.dns.outcome import TxtAnswer
from survey.errors import InputError
from survey.schema.values import DkimKeyType, DkimStatus, Outcome
from survey.verdict.dkim import (
    NOT_ASKED,
    DkimLookups,
    SelectorList,
    judge_dkim,
    load_providers,
    probes_needed,
)

OK, NX, NODATA, TIMEOUT = Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA, Outcome.TIMEOUT
KEY = f"v=DKIM1; k=rsa; p={rsa_key(2048)}"
WEAK = f"v=DKIM1; p={rsa_key(1024)}"
DEFAULT = SelectorList.load("default")
PROVIDERS = load_providers()


def txt(outcome: Outcome, *texts: str) -> TxtAnswer:
    return TxtAnswer("x", outcome, texts)


def lookups(domainkey=NODATA, wildcard=(NX,), targets=None, **selectors) -> DkimLookups:
    answers = {name: txt(*value) for name, value in selectors.items()}
    return DkimLookups("example.com", txt(domainkey), txt(*wildcard), answers, targets)


def test_lists_tiers_and_files(tmp_path: Path) -> None:
    extended = SelectorList.load("extended")
    assert set(DEFAULT.selectors) < set(extended.selectors)
    assert {"selector1", "google", "k1", "s1"} <= set(DEFAULT.selectors)
    assert len(extended.selectors) >= 29 and "everlytickey2" in extended.selectors
    assert DEFAULT.providers["selector1"] == "Microsoft 365"
    own = tmp_path / "mine.csv"
    own.write_text("selector\nS1\nmine.sub\ns1\n")
    assert SelectorList.load(str(own)).selectors == ("s1", "mine.sub")
    own.write_text("name\nx\n")
    with pytest.raises(InputError, match="selector"):
        SelectorList.load(str(own))


@pytest.mark.parametrize(
    ("answer", "asked"), [(NX, False), (TIMEOUT, False), (NODATA, True), (OK, True)]
)
def test_selectors_are_probed_only_below_an_existing_domainkey(answer, asked) -> None:
    assert probes_needed(txt(answer)) is asked


def test_nxdomain_at_domainkey_is_absent_and_a_failure_is_error() -> None:
    assert judge_dkim(lookups(NX), DEFAULT, PROVIDERS).status is DkimStatus.ABSENT
    failed = judge_dkim(lookups(TIMEOUT), DEFAULT, PROVIDERS)
    assert (failed.status, failed.domainkey_lookup) == (DkimStatus.ERROR, TIMEOUT)
    assert NOT_ASKED.status is None


def test_keys_found_with_types_sizes_revoked_and_providers() -> None:
    verdict = judge_dkim(
        lookups(
            google=(OK, KEY),
            selector1=(OK, WEAK),
            s1=(OK, "v=DKIM1; p="),
            k1=(NX,),
            default=(NODATA,),
            targets={"selector1": "selector1-example-com._domainkey.example.onmicrosoft.com"},
        ),
        DEFAULT,
        PROVIDERS,
    )
    assert verdict.status is DkimStatus.FOUND
    assert verdict.selectors == ("google", "s1", "selector1")
    assert verdict.key_types == (DkimKeyType.RSA,) * 3
    assert verdict.key_bits == (2048, None, 1024)
    assert verdict.revoked == ("s1",)
    assert verdict.providers == ("Google Workspace", "Microsoft 365", "SendGrid")
    assert verdict.warnings == ("rsa_under_2048",) and verdict.errors == ()


def test_a_cname_target_names_the_provider_before_the_selector() -> None:
    target = {"s1": "s1.domainkey.u123.wl.sendgrid.net", "k1": "dkim.mcsv.net"}
    verdict = judge_dkim(lookups(s1=(OK, KEY), k1=(OK, KEY), targets=target), DEFAULT, PROVIDERS)
    assert verdict.providers == ("Mailchimp", "SendGrid")
    odd = {"s1": "keys.example.net"}  # an unknown target: the selector's own provider
    assert judge_dkim(lookups(s1=(OK, KEY), targets=odd), DEFAULT, PROVIDERS).providers == (
        "SendGrid",
    )


def test_text_that_is_no_key_is_not_found_and_nothing_found_is_none_found() -> None:
    verdict = judge_dkim(lookups(google=(OK, "v=spf1 -all"), k1=(NODATA,)), DEFAULT, PROVIDERS)
    assert verdict.status is DkimStatus.NONE_FOUND and verdict.selectors == ()


def test_a_failed_probe_with_nothing_found_is_error_never_none_found() -> None:
    verdict = judge_dkim(lookups(google=(TIMEOUT,), k1=(NODATA,)), DEFAULT, PROVIDERS)
    assert verdict.status is DkimStatus.ERROR
    unknown_wildcard = judge_dkim(lookups(wildcard=(TIMEOUT,), k1=(NODATA,)), DEFAULT, PROVIDERS)
    assert unknown_wildcard.status is DkimStatus.ERROR
    # a key seen does not make up for a failed selector: the list of selectors would be wrong
    partial = judge_dkim(lookups(google=(OK, KEY), k1=(TIMEOUT,)), DEFAULT, PROVIDERS)
    assert partial.status is DkimStatus.ERROR and partial.selectors == ()


def test_a_wildcard_is_reported_and_its_text_not_counted() -> None:
    wild = lookups(wildcard=(OK, KEY), google=(OK, KEY), k1=(OK, KEY))
    verdict = judge_dkim(wild, DEFAULT, PROVIDERS)
    assert verdict.status is DkimStatus.NONE_FOUND
    assert verdict.warnings == ("wildcard_domainkey",)
    real = judge_dkim(lookups(wildcard=(OK, KEY), google=(OK, WEAK)), DEFAULT, PROVIDERS)
    assert (real.status, real.selectors) == (DkimStatus.FOUND, ("google",))
    assert set(real.warnings) == {"wildcard_domainkey", "rsa_under_2048"}


def test_several_records_at_one_selector_are_flagged() -> None:
    verdict = judge_dkim(lookups(google=(OK, KEY, WEAK)), DEFAULT, PROVIDERS)
    assert verdict.key_bits == (2048,)
    assert "multiple_records" in verdict.warnings

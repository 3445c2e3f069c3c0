"""What DNS says of one domain's DKIM keys: which names to ask, and the verdict of the answers.

Pure. Selectors cannot be listed, so the survey asks (RFC 6376 §3.6.2.1 key names):
1. TXT `_domainkey.<d>`. NXDOMAIN there means nothing can exist below it (RFC 8020): `absent`,
   one question spent. A failed lookup: `error`, never absent.
2. Otherwise TXT `<s>._domainkey.<d>` for every selector `s` of the chosen list, and once TXT
   `<random>._domainkey.<d>`: a random selector that answers reveals a wildcard, whose text is
   then not counted as a key (warning `wildcard_domainkey`).
A selector "has a key record" when one of its TXT texts parses as a DKIM key record with a `p`
tag or starts with `v=DKIM1`; revoked keys (`p=` empty) count as found. The provider comes from
the CNAME target the answer came through (`dkim_providers.csv`), else from the selector itself
when it implies one (`dkim_selectors.csv`). Any of these questions that fails makes the
verdict `error` (unresolved: `--retry-unresolved` asks again), a key seen elsewhere included:
the selector columns would otherwise claim that the failed selector has no key.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from survey import DATA_DIR
from survey.dns.outcome import TxtAnswer
from survey.errors import InputError
from survey.records.dkim import DkimRecord, parse_dkim_record
from survey.records.problem import Problem
from survey.schema.codes import DkimCode
from survey.schema.values import DkimKeyType, DkimStatus, Outcome, ProblemKind
from survey.verdict.vendors import VendorTable

SELECTORS_FILE = DATA_DIR / "dkim_selectors.csv"
PROVIDERS_FILE = DATA_DIR / "dkim_providers.csv"
LISTS = ("default", "extended")  # `--dkim-selectors`: a tier name, or a file of one's own


def domainkey_name(domain: str) -> str:
    return f"_domainkey.{domain}"


def selector_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


@dataclass(frozen=True, slots=True)
class SelectorList:
    """The selectors to probe, in order, and the provider a selector implies (if any)."""

    name: str  # `default`, `extended`, or the file's path: recorded in the manifest
    selectors: tuple[str, ...]
    providers: Mapping[str, str]

    @property
    def digest(self) -> str:
        """SHA-256 of the list as probed (selectors in order, each with its provider): the
        manifest records it beside the list's name, so that two scans can tell whether they
        asked the same selectors."""
        lines = (f"{s},{self.providers.get(s, '')}\n" for s in self.selectors)
        return hashlib.sha256("".join(lines).encode()).hexdigest()

    def manifest_entry(self) -> dict[str, Any]:
        """The list as the manifest records it: enough to ask the same selectors again."""
        return {
            "list": self.name,
            "sha256": self.digest,
            "selectors": list(self.selectors),
            "providers": dict(sorted(self.providers.items())),
        }

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any]) -> SelectorList:
        return cls(str(entry["list"]), tuple(entry["selectors"]), dict(entry.get("providers", {})))

    @classmethod
    def load(cls, which: str, path: Path = SELECTORS_FILE) -> SelectorList:
        """A bundled tier (`extended` includes `default`), or a CSV file with a `selector`
        column (optionally `provider`)."""
        source = path if which in LISTS else Path(which)
        rows = _read_rows(source, {"selector"})
        if which in LISTS:
            tiers = LISTS[: LISTS.index(which) + 1]
            rows = [row for row in rows if row.get("tier") in tiers]
        selectors = tuple(dict.fromkeys(_label(row["selector"], source) for row in rows))
        providers = {
            _label(row["selector"], source): row["provider"] for row in rows if row.get("provider")
        }
        if not selectors:
            raise InputError(f"DKIM selector list {which}: no selector")
        return cls(which, selectors, providers)


def _read_rows(path: Path, needed: set[str]) -> list[dict[str, str]]:
    try:
        with Path(path).open(encoding="utf-8", newline="") as lines:
            rows = [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(lines)]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    if rows and not needed <= rows[0].keys():
        raise InputError(f"{path}: needs the column(s) {', '.join(sorted(needed))}")
    return rows


def _label(selector: str, source: Path) -> str:
    """A selector is one or more DNS labels (RFC 6376 §3.1 selector = sub-domain)."""
    text = selector.strip().lower().rstrip(".")
    if not text or any(not part or len(part) > 63 for part in text.split(".")):
        raise InputError(f"{source}: unusable selector {selector!r}")
    return text


def load_providers(path: Path = PROVIDERS_FILE) -> VendorTable:
    """CNAME target suffix → provider (`vendor,suffix` columns, as the report vendor table)."""
    return VendorTable.load(path)


@dataclass(slots=True)
class DkimLookups:
    """The answers of one domain's DKIM questions (the selector ones only when asked)."""

    domain: str
    domainkey: TxtAnswer  # TXT _domainkey.<d>
    wildcard: TxtAnswer | None = None  # TXT <random>._domainkey.<d>
    selectors: Mapping[str, TxtAnswer] | None = None  # selector → answer
    targets: Mapping[str, str] | None = None  # selector → the name a CNAME led to


def probes_needed(domainkey: TxtAnswer) -> bool:
    """Step 2 is asked only when `_domainkey.<d>` answered and is not NXDOMAIN (RFC 8020)."""
    return domainkey.is_answer and domainkey.outcome is not Outcome.NXDOMAIN


@dataclass(frozen=True, slots=True)
class DkimVerdict:
    """The DKIM columns of one domain. The lists `key_types` and `key_bits` run parallel to
    `selectors` (key_bits None for a revoked or unparsable key)."""

    status: DkimStatus | None
    domainkey_lookup: Outcome | None
    selectors: tuple[str, ...] = ()
    key_types: tuple[DkimKeyType, ...] = ()
    key_bits: tuple[int | None, ...] = ()
    revoked: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    errors: tuple[DkimCode, ...] = ()
    warnings: tuple[DkimCode, ...] = ()

    @property
    def columns(self) -> tuple[Any, ...]:
        """The row's DKIM columns, in schema order (`dkim_domainkey_lookup` … `dkim_warnings`)."""
        return (
            self.domainkey_lookup,
            self.status,
            self.selectors,
            self.key_types,
            self.key_bits,
            self.revoked,
            self.providers,
            self.errors,
            self.warnings,
        )


NOT_ASKED = DkimVerdict(None, None)


def judge_dkim(
    lookups: DkimLookups, selectors: SelectorList, providers: VendorTable
) -> DkimVerdict:
    """The verdict of the answers in `lookups` (see the module docstring for the rules)."""
    outcome = lookups.domainkey.outcome
    if not lookups.domainkey.is_answer:
        return DkimVerdict(DkimStatus.ERROR, outcome)
    if outcome is Outcome.NXDOMAIN:
        return DkimVerdict(DkimStatus.ABSENT, outcome)
    answers = lookups.selectors or {}
    wildcard_texts = _wildcard_texts(lookups.wildcard)
    keys = {
        selector: records
        for selector in sorted(answers)
        if (records := _key_records(answers[selector], wildcard_texts))
    }
    if wildcard_texts is None or not all(a.is_answer for a in answers.values()):
        # The selector columns would claim a failed selector has no key, and a failed
        # wildcard check leaves every text in doubt: unresolved, as any failed lookup.
        return DkimVerdict(DkimStatus.ERROR, outcome)
    if not keys:
        return DkimVerdict(
            DkimStatus.NONE_FOUND, outcome, warnings=_wildcard_warning(wildcard_texts)
        )
    return _found(outcome, keys, lookups.targets or {}, selectors, providers, wildcard_texts)


def _wildcard_texts(answer: TxtAnswer | None) -> frozenset[str] | None:
    """The texts a random selector gets (empty: no wildcard); None when that lookup failed."""
    if answer is None or not answer.is_answer:
        return None
    return frozenset(answer.texts)


def _wildcard_warning(texts: frozenset[str] | None) -> tuple[DkimCode, ...]:
    return (DkimCode.WILDCARD_DOMAINKEY,) if texts else ()


def _key_records(answer: TxtAnswer, wildcard: frozenset[str] | None) -> tuple[DkimRecord, ...]:
    """The key records at one selector, a wildcard's text left out."""
    if answer.outcome is not Outcome.OK:
        return ()
    texts = [t for t in answer.texts if not wildcard or t not in wildcard]
    return tuple(parse_dkim_record(t) for t in texts if _looks_like_key(t))


def _looks_like_key(text: str) -> bool:
    record = parse_dkim_record(text)
    return text.lstrip().startswith("v=DKIM1") or DkimCode.P_MISSING not in _codes(record.errors)


def _found(
    outcome: Outcome,
    keys: Mapping[str, tuple[DkimRecord, ...]],
    targets: Mapping[str, str],
    selectors: SelectorList,
    providers: VendorTable,
    wildcard: frozenset[str] | None,
) -> DkimVerdict:
    """`found`: the first record of each selector describes its key (several are flagged)."""
    first = {selector: records[0] for selector, records in keys.items()}
    problems: list[Problem] = []
    for selector, records in keys.items():
        problems += [p for r in records for p in (*r.errors, *r.warnings)]
        if len(records) > 1:
            problems.append(Problem(DkimCode.MULTIPLE_RECORDS, selector))
    names = {_provider(s, targets.get(s), selectors, providers) for s in keys}
    codes = sorted(set(_codes(problems)) | set(_wildcard_warning(wildcard)))
    return DkimVerdict(
        DkimStatus.FOUND,
        outcome,
        selectors=tuple(keys),
        key_types=tuple(record.key_type for record in first.values()),
        key_bits=tuple(record.key_bits for record in first.values()),
        revoked=tuple(s for s, record in first.items() if record.revoked),
        providers=tuple(sorted(name for name in names if name)),
        errors=tuple(c for c in codes if c.kind is ProblemKind.ERROR),
        warnings=tuple(c for c in codes if c.kind is ProblemKind.WARNING),
    )


def _provider(
    selector: str, target: str | None, selectors: SelectorList, providers: VendorTable
) -> str | None:
    """The CNAME target's provider first (it names who holds the key), else the selector's."""
    if target:
        found = providers.vendor_by_suffix(target)
        if found:
            return found
    return selectors.providers.get(selector)


def _codes(problems: Iterable[Problem]) -> list[DkimCode]:
    return [DkimCode(p.code) for p in problems]

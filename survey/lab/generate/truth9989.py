"""The RFC 9989 truth of a lab domain, worked out from what the generator wrote: the records it
put at every `_dmarc` name, and which names exist. Never by the survey's parser or its tree
walk: this module walks the lab's own records, as draft-ietf-dmarc-dmarcbis-41 §4.10 says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from survey.lab.generate.model import DmarcText


@dataclass(frozen=True, slots=True)
class Stop:
    """What the walk found at one name it asked."""

    name: str
    texts: tuple[DmarcText, ...]

    @property
    def records(self) -> list[DmarcText]:
        return [text for text in self.texts if text.is_dmarc]

    @property
    def record(self) -> DmarcText | None:
        """§4.10 steps 2, 6: the non-DMARC texts go; several records go too."""
        records = self.records
        return records[0] if len(records) == 1 else None


def asked_names(domain: str) -> list[str]:
    """§4.10 steps 1-7, as the RFC lists them: the domain; then, from a name of 8 labels or
    more, the name of its last 7 labels, else its parent; then each parent down to the TLD."""
    labels = domain.split(".")
    names = [domain]
    keep = min(len(labels) - 1, 7)
    while keep >= 1:
        names.append(".".join(labels[len(labels) - keep :]))
        keep -= 1
    return names


def walk(domain: str, records_at: Mapping[str, tuple[DmarcText, ...]]) -> list[Stop]:
    """The names the walk asks, with what it found at each, until a lone record with psd=y or
    psd=n ends it."""
    stops = []
    for name in asked_names(domain):
        stop = Stop(name, records_at.get(name, ()))
        stops.append(stop)
        if stop.record is not None and stop.record.psd_stops:
            break
    return stops


def organizational_domain(domain: str, stops: list[Stop]) -> str:
    """§4.10.2: longest first, psd=n: that name; psd=y (not where the walk started): the name
    one label below it toward the domain; otherwise the name with the fewest labels."""
    with_record = [stop for stop in stops if stop.record is not None]
    for position, stop in enumerate(stops):
        if stop.record is None:
            continue
        if stop.record.psd == "n":
            return stop.name
        if stop.record.psd == "y" and position > 0:
            labels = stop.name.count(".") + 2
            return ".".join(domain.split(".")[-labels:])
    return with_record[-1].name if with_record else domain


def expected_9989(domain: str, exists: bool, records_at: Mapping) -> tuple:
    """The nine `dmarc9989_*` columns of one lab domain."""
    stops = walk(domain, records_at)
    org = organizational_domain(domain, stops)
    found = _policy_stop(stops, org)
    walk_discards = {"walk_discarded"} if any(len(s.records) > 1 for s in stops[1:]) else set()
    own = stops[0]
    if found is None:
        codes = sorted(walk_discards)
        if len(own.records) > 1:
            return ("invalid", None, org, None, None, None, None, ["multiple_records"], codes)
        if own.texts:  # only non-DMARC text at the domain's own name
            return ("invalid", None, org, None, None, None, None, _codes(own.texts), codes)
        return ("absent", None, org, None, None, None, None, [], codes)
    applied, record = found
    warnings = set(record.warnings9989) | walk_discards
    if any(not text.is_dmarc for text in own.texts):
        warnings.add("discarded_text")
    if len(own.records) > 1:
        warnings.add("walk_discarded")
    effective = record.policy9989(above=applied is not own, exists=exists)
    status = "invalid" if record.errors9989 else "valid"
    tags = (record.np, record.psd, record.t)
    return (
        status,
        applied.name,
        org,
        effective,
        *tags,
        sorted(set(record.errors9989)),
        sorted(warnings),
    )


def _policy_stop(stops: list[Stop], org: str) -> tuple[Stop, DmarcText] | None:
    """§4.10.1: the domain's own record, else the organizational domain's, else the PSD's."""
    with_record = [(stop, record) for stop in stops if (record := stop.record) is not None]
    own = [pair for pair in with_record if pair[0] is stops[0]]
    at_org = [pair for pair in with_record if pair[0].name == org]
    at_psd = [pair for pair in with_record if pair[1].psd == "y"]
    for pairs in (own, at_org, at_psd):
        if pairs:
            return pairs[0]
    return None


def _codes(texts: Iterable[DmarcText]) -> list[str]:
    return sorted({code for text in texts for code in text.errors9989})

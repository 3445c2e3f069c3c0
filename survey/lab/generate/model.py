"""The lab's vocabulary: what a planned domain is, what it publishes, and the truth about it.

Also the deterministic "randomness" every case draws its details from: a domain's `bits`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from survey.lab.generate.spf_trees import Rec


class DkimTree(Protocol):
    """What a domain publishes under `_domainkey` (`dkim_cases.DkimTruth`)."""

    @property
    def exists(self) -> bool: ...

    def lines(self, domain: str) -> list[str]: ...

    def expected(self) -> tuple: ...


TOKENS = (
    "google-site-verification=",
    "MS=ms",
    "facebook-domain-verification=",
    "apple-domain-verification=",
)


@dataclass(frozen=True, slots=True)
class ReportUri:
    """A syntactically valid report URI as written, and the truth about its destination."""

    uri: str
    host: str
    vendor: str  # vendor name, `self` or `other`
    authorized: bool  # not external, or the host publishes the RFC 7489 §7.1 record


_POLICIES = ("none", "quarantine", "reject")
_ONE_LEVEL_BELOW = {"reject": "quarantine", "quarantine": "none", "none": "none"}


@dataclass(frozen=True, slots=True)
class DmarcText:
    """One TXT record published at `_dmarc.<name>` and what a correct parser must find in it,
    by RFC 7489 (`errors`, `warnings`) and by RFC 9989 (`errors9989`, `warnings9989`).

    `p` is None when the record has no p tag (a `p:reject` is none); `p_valid` is False when it
    has none or a bad one. `np`, `psd`, `t` are the RFC 9989 tags as written (RFC 7489 knows
    them as unknown tags). `rua` holds the syntactically valid report URIs only."""

    strings: tuple[str, ...]  # the character-strings as written
    is_dmarc: bool = True
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    p: str | None = None
    sp: str | None = None
    pct: int | None = None
    p_valid: bool = True
    sp_valid: bool = True
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()
    np: str | None = None
    psd: str | None = None
    t: str | None = None
    errors9989: tuple[str, ...] = ()
    warnings9989: tuple[str, ...] = ()

    def policy(self, from_organizational: bool) -> str | None:
        """RFC 7489 §6.6.3 step 6, as the spec states it."""
        if self.p is not None and self.p_valid and self.sp_valid:
            return self.sp if from_organizational and self.sp else self.p
        return "none" if self.rua else None

    def policy9989(self, above: bool, exists: bool) -> str | None:
        """RFC 9989, as the spec states it: a p, sp or np that is present and invalid means
        p=none with a valid rua, else nothing (§4.10.1); no p at all means p=none (§4.7 p);
        found above the domain: np for a domain that does not exist, if given, else sp if
        given, else p (§4.7 np, sp; §4.10.1); then t=y one level below (§4.7 t)."""
        if not self.is_dmarc:
            return None
        bad_p = self.p is not None and not self.p_valid
        if bad_p or not self.sp_valid or self.np not in (None, *_POLICIES):
            return "none" if self.rua else None
        applied = self.p or "none"
        if above and not exists and self.np:
            applied = self.np
        elif above and self.sp:
            applied = self.sp
        return _ONE_LEVEL_BELOW[applied] if self.t == "y" else applied

    @property
    def psd_stops(self) -> bool:
        """§4.10 steps 2 and 6: a lone record with psd=y or psd=n ends the tree walk."""
        return self.psd in ("y", "n")


@dataclass(frozen=True, slots=True)
class SpfTruth:
    """The TXT records at `<d>` (SPF and others) and the verdict on them; the names below `<d>`
    its evaluation reaches (their TXT records), the names with an A record, and the names with
    MX records (their exchanges), for `spf_trees.evaluate`."""

    records: tuple[Rec, ...] = ()
    status: str = "absent"
    all: str | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    names: tuple[tuple[str, tuple[Rec, ...]], ...] = ()
    a: tuple[str, ...] = ()
    mx: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(record.text for record in self.records)


@dataclass(frozen=True, slots=True)
class Plan:
    """One lab domain: its name and cases. `bits` seeds every detail so a case is stable."""

    name: str
    org: str
    dmarc: str
    spf: str = "absent"
    report: str | None = None
    sub: str | None = None
    parent: int | None = None
    reserved: bool = False
    bits: int = 0
    dkim: str = "absent"  # the DKIM case (dkim_cases.py)


@dataclass(frozen=True, slots=True)
class Published:
    """What the zone holds for one domain."""

    plan: Plan
    dmarc: tuple[DmarcText, ...]
    cname: str | None
    spf: SpfTruth
    has_a: bool
    dkim: DkimTree | None = None  # what sits under `_domainkey.<d>`

    @property
    def holds_records(self) -> bool:
        """Anything at the name, at its `_dmarc` or under its `_domainkey` (which makes it
        exist, RFC 8020 / RFC 4592 §2.2: an empty non-terminal exists)."""
        return bool(self.spf.texts or self.has_a or self.dmarc or self.cname or self._dkim_exists)

    @property
    def _dkim_exists(self) -> bool:
        return self.dkim is not None and self.dkim.exists


def mix(bits: int, salt: int) -> int:
    """A decorrelated 40-bit number from a domain's bits (multiply-shift hashing)."""
    return ((bits * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9) >> 24) & 0xFFFFFFFFFF


T = TypeVar("T")


def pick(bits: int, salt: int, choices: tuple[T, ...] | list[T]) -> T:
    return choices[mix(bits, salt) % len(choices)]


def token(bits: int, salt: int, length: int = 10) -> str:
    return f"{mix(bits, salt):010x}{mix(bits, salt + 97):010x}"[:length]


def verification_token(bits: int, salt: int) -> str:
    prefix = pick(bits, salt, TOKENS)
    return prefix + (
        f"{mix(bits, salt + 1) % 10**8:08d}"
        if prefix == "MS=ms"
        else token(bits, salt + 2, 20) + token(bits, salt + 3, 20)
    )

"""The lab's vocabulary: what a planned domain is, what it publishes, and the truth about it.

Also the deterministic "randomness" every case draws its details from: a domain's `bits`.
"""

from dataclasses import dataclass
from typing import TypeVar

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


@dataclass(frozen=True, slots=True)
class DmarcText:
    """One TXT record published at `_dmarc.<d>` and what a correct parser must find in it."""

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

    def policy(self, from_organizational: bool) -> str | None:
        """RFC 7489 §6.6.3 step 6, as the spec states it."""
        if self.p is not None and self.p_valid and self.sp_valid:
            return self.sp if from_organizational and self.sp else self.p
        return "none" if self.rua else None


@dataclass(frozen=True, slots=True)
class SpfTruth:
    """The TXT records at `<d>` (SPF and others) and the verdict on them."""

    texts: tuple[str, ...] = ()
    status: str = "absent"
    all: str | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


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


@dataclass(frozen=True, slots=True)
class Published:
    """What the zone holds for one domain."""

    plan: Plan
    dmarc: tuple[DmarcText, ...]
    cname: str | None
    spf: SpfTruth
    has_a: bool


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

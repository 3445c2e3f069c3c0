"""DKIM key records (RFC 6376 §3.6.1): parse the TXT text at `<selector>._domainkey.<domain>`.

Pure: text in, `DkimRecord` out, every problem collected as a `Problem(code, context)`. The key
size is read from `p` with `cryptography`: RSA keys as SubjectPublicKeyInfo or as a bare
RSAPublicKey (RFC 6376 erratum 3017: both are published), ed25519 keys as the 32 raw bytes of
RFC 8463 §4.2. RFC 8301 sets the floors: RSA under 1024 bits and sha1-only keys are unusable.

Unlike DMARC's, DKIM tag names are case-sensitive (RFC 6376 §3.2): `P=` is not `p=`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.records.tagvalue import Tag, excerpt, raw_byte_problem, split_tags
from survey.schema.codes import DkimCode
from survey.schema.values import DkimKeyType, ProblemKind

_KNOWN_TAGS = frozenset({"v", "h", "k", "n", "p", "s", "t"})
_KEY_TYPES = {"rsa": DkimKeyType.RSA, "ed25519": DkimKeyType.ED25519}
_FWS = re.compile(r"[ \t\r\n]+")
ED25519_KEY_BYTES = 32  # RFC 8463 §4.2
RSA_MINIMUM_BITS = 1024  # RFC 8301 §3.2: verifiers MUST NOT accept smaller keys
RSA_RECOMMENDED_BITS = 2048  # RFC 8301 §3.2: signers SHOULD use at least this


@dataclass(frozen=True, slots=True)
class DkimRecord:
    """One key record. `key_bits`: the RSA modulus size or 256 for ed25519; None when the key
    is revoked (`p=` empty), missing or unparsable. `valid`: no error."""

    text: str
    key_type: DkimKeyType
    key_bits: int | None
    revoked: bool
    testing: bool  # t=y
    strict: bool  # t=s: the i= domain must equal d=
    hashes: tuple[str, ...]  # h, as written; empty: every algorithm
    services: tuple[str, ...]  # s, as written; empty: * (every service)
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


@repeated_memo(maxsize=4096)
def parse_dkim_record(text: str) -> DkimRecord:
    """Parse one TXT text as a DKIM key record; never raises."""
    tags, lexer_problems = split_tags(text)
    problems = [p for p in lexer_problems if p.code != DkimCode.DUPLICATE_TAG]
    problems += _duplicates(tags) + _version_problems(tags)
    first = _first_by_raw_name(tags)
    problems += [
        Problem(DkimCode.UNKNOWN_TAG, f"tag {t.raw_name!r}")
        for t in tags
        if t.raw_name not in _KNOWN_TAGS
    ]
    key_type = _KEY_TYPES.get(first.get("k", "rsa"), DkimKeyType.UNKNOWN)
    if key_type is DkimKeyType.UNKNOWN:
        problems.append(Problem(DkimCode.UNKNOWN_KEY_TYPE, f"k={excerpt(first['k'])}"))
    key_bits, key_problems = _key(first.get("p"), key_type)
    hashes, services, flags = (_list(first.get(name)) for name in ("h", "s", "t"))
    problems += key_problems + _usage_problems(hashes, services, flags)
    if (raw := raw_byte_problem(text)) is not None:
        problems.append(Problem(DkimCode.NON_UTF8, raw.context))
    errors = tuple(p for p in problems if DkimCode(p.code).kind is ProblemKind.ERROR)
    warnings = tuple(p for p in problems if DkimCode(p.code).kind is ProblemKind.WARNING)
    return DkimRecord(
        text=text,
        key_type=key_type,
        key_bits=key_bits,
        revoked=first.get("p") == "",
        testing="y" in flags,
        strict="s" in flags,
        hashes=hashes,
        services=services,
        errors=errors,
        warnings=warnings,
    )


def _first_by_raw_name(tags: tuple[Tag, ...]) -> dict[str, str]:
    """Tag values by their case-sensitive name (§3.2); the first of duplicates is read."""
    found: dict[str, str] = {}
    for tag in tags:
        found.setdefault(tag.raw_name, tag.value)
    return found


def _duplicates(tags: tuple[Tag, ...]) -> list[Problem]:
    """§3.2: a tag name appearing twice invalidates the whole list (names compared as written)."""
    seen: set[str] = set()
    problems = []
    for tag in tags:
        if tag.raw_name in seen:
            problems.append(Problem(DkimCode.DUPLICATE_TAG, f"tag {tag.raw_name!r} again"))
        seen.add(tag.raw_name)
    return problems


def _version_problems(tags: tuple[Tag, ...]) -> list[Problem]:
    """§3.6.1: v is optional; when present it MUST be first and exactly `DKIM1`."""
    problems = []
    for index, tag in enumerate(tags):
        if tag.raw_name != "v":
            continue
        if index > 0:
            problems.append(Problem(DkimCode.V_NOT_FIRST, f"v is tag {index + 1}"))
        elif tag.value != "DKIM1":
            problems.append(Problem(DkimCode.V_INVALID, f"v={excerpt(tag.value)}"))
    return problems


def _list(value: str | None) -> tuple[str, ...]:
    """A colon-separated plain-text list (h, s, t), white space around items removed."""
    if not value:
        return ()
    return tuple(item.strip(" \t\r\n") for item in value.split(":"))


def _usage_problems(
    hashes: tuple[str, ...], services: tuple[str, ...], flags: tuple[str, ...]
) -> list[Problem]:
    problems = []
    if hashes and "sha1" in hashes and "sha256" not in hashes:
        problems.append(Problem(DkimCode.SHA1_ONLY, f"h={':'.join(hashes)}"))
    if services and not {"*", "email"} & set(services):
        problems.append(Problem(DkimCode.SERVICE_NOT_EMAIL, f"s={excerpt(':'.join(services))}"))
    if "y" in flags:
        problems.append(Problem(DkimCode.TESTING, "t=y"))
    return problems


def _key(value: str | None, key_type: DkimKeyType) -> tuple[int | None, list[Problem]]:
    """The key size in bits from `p`, and the problems of `p` (§3.6.1; empty: revoked)."""
    if value is None:
        return None, [Problem(DkimCode.P_MISSING, "no p tag")]
    data = _FWS.sub("", value)  # §2.4 base64string may be folded
    if not data:
        return None, []
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, [Problem(DkimCode.P_NOT_BASE64, f"p={excerpt(data)}")]
    if key_type is DkimKeyType.ED25519:
        return _ed25519_bits(raw)
    if key_type is DkimKeyType.RSA:
        return _rsa_bits(raw)
    return None, []  # an unknown type's key cannot be read (its own error says why)


def _ed25519_bits(raw: bytes) -> tuple[int | None, list[Problem]]:
    if len(raw) != ED25519_KEY_BYTES:
        return None, [Problem(DkimCode.KEY_UNPARSABLE, f"ed25519 key of {len(raw)} bytes, not 32")]
    return 256, []


def _rsa_bits(raw: bytes) -> tuple[int | None, list[Problem]]:
    """SubjectPublicKeyInfo or a bare RSAPublicKey (erratum 3017); RFC 8301 size floors."""
    try:
        key = load_der_public_key(raw)
    except (ValueError, TypeError):  # cryptography's rejection of malformed DER
        return None, [Problem(DkimCode.KEY_UNPARSABLE, f"{len(raw)} bytes that are no RSA key")]
    if not isinstance(key, rsa.RSAPublicKey):
        return None, [Problem(DkimCode.KEY_UNPARSABLE, f"a {type(key).__name__} where k=rsa")]
    bits = key.key_size
    if bits < RSA_MINIMUM_BITS:
        return bits, [Problem(DkimCode.RSA_UNDER_1024, f"{bits} bits")]
    if bits < RSA_RECOMMENDED_BITS:
        return bits, [Problem(DkimCode.RSA_UNDER_2048, f"{bits} bits")]
    return bits, []

"""Domain names as the survey takes them: normalised to A-labels, then validated as host names.

Normalisation: strip, lower case, U-labels → A-labels (UTS46 non-transitional mapping then
IDNA2008, `idna` package), remove one trailing dot. ASCII names are not run through IDNA:
existing `xn--` labels and `ab--c` labels are kept as they are in DNS.

Validation (RFC 1035 §2.3.4, RFC 1123 §2.1): at most 253 characters, labels of 1..63
letters/digits/hyphens not starting or ending with a hyphen, at least two labels, not an IP
address, last label not all digits (RFC 3696 §2). Underscores are rejected
(`invalid_character`): the survey reads mail domains, which are host names, and
`_dmarc.example.com` in a list is a mistake, not a domain to survey. The reasons are codes of
`survey.input.rejects.REJECT_REASONS`.
"""

from __future__ import annotations

import ipaddress
import re

import idna

MAX_NAME = 253  # RFC 1035 §2.3.4, written without the trailing dot
MAX_LABEL = 63  # RFC 1035 §2.3.4

_LDH = re.compile(r"[a-z0-9-]+\Z")
# Fast path for the common case: LDH labels, last label starting with a letter (so no IP).
_HOST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z"
)


def _a_label(label: str) -> str:
    """One label as an A-label; left as it is (non-ASCII) when IDNA2008 refuses it."""
    if label.isascii():
        return label
    try:
        return idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return label


def normalise(name: str) -> str:
    """Strip, lower-case, U-labels → A-labels (UTS46, non-transitional), drop one trailing dot.

    Never raises: a name IDNA cannot convert keeps its non-ASCII characters, which `validate`
    reports as `idna_error`.
    """
    text = name.strip().lower()
    if not text.isascii():
        try:
            text = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError):
            return text
        text = ".".join(_a_label(label) for label in text.split("."))
    return text[:-1] if text.endswith(".") else text


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def _label_problem(label: str) -> str | None:
    """RFC 1035 §2.3.4 length and RFC 1123 §2.1 LDH syntax of one label."""
    if not label:
        return "empty_label"
    if len(label) > MAX_LABEL:
        return "label_too_long"
    if not _LDH.match(label):
        return "invalid_character"
    if label[0] == "-" or label[-1] == "-":
        return "invalid_hyphen"
    return None


def validate(name: str) -> str | None:
    """The reject reason of a normalised name, or None when it is a usable domain name."""
    if len(name) <= MAX_NAME and _HOST_NAME.match(name):
        return None
    if not name:
        return "empty"
    if not name.isascii():
        return "idna_error"
    if (":" in name or name[-1].isdigit()) and _is_ip_address(name):
        return "ip_address"
    if len(name) > MAX_NAME:
        return "name_too_long"
    labels = name.split(".")
    for label in labels:
        if reason := _label_problem(label):
            return reason
    if len(labels) < 2:
        return "single_label"
    return "numeric_tld" if labels[-1].isdigit() else None

"""Organizational domains (RFC 7489 §3.2) from the Public Suffix List, by the list's algorithm.

RFC 7489 §3.2 defines the organizational domain as the public suffix of a name plus one more
label, where the public suffix comes from "a public suffix list": `data/public_suffix_list.dat`
(https://publicsuffix.org/list/), read and matched here. The list's algorithm:

- A rule is a name, matched against a name's rightmost labels, label by label; a `*` label
  matches any one label (`*.ck`); a rule starting with `!` is an exception (`!www.ck`).
- If no rule matches, the rule is `*`: the name's last label is its public suffix.
- Of the matching rules, an exception prevails, and the public suffix is the exception rule
  minus its leftmost label (`www.ck` → `ck`); else the rule with the most labels prevails, and
  the public suffix is the part of the name it matches.

Decisions, documented because they change verdicts:

- The PRIVATE section is included (the whole file, as publicsuffix.org asks consumers to use it
  and as most DMARC implementations load it). So `alice.github.io` and `bob.github.io` are
  two organizations, not one `github.io`. `load(path, private=False)` keeps the ICANN section only.
- Only rules match: a list holding `*.compute.amazonaws.com` but not `amazonaws.com` leaves
  `foo.amazonaws.com` under the implicit `*` rule, so its organization is `amazonaws.com`.
- A name under an unlisted TLD follows the implicit `*` rule: `www.host.internal` →
  `host.internal`.
- A name that is itself a public suffix (`co.uk`, `com`, `anything.ck`) is its own
  organizational domain.
- Rules are converted to A-labels with UTS46 non-transitional mapping and lower-cased, as
  `survey.input.names.normalise` converts names, so both sides compare in the same form.
- A `*` is only allowed as a rule's leftmost label (as in every rule of the list); a list with
  one elsewhere is refused rather than half understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import idna

from survey import DATA_DIR
from survey.errors import InputError
from survey.input.names import normalise

#: The list shipped with the repository.
DEFAULT_LIST = DATA_DIR / "public_suffix_list.dat"
#: Lookups cached per process; organizational domains repeat a lot across a scan.
CACHE_SIZE = 65_536  # names; enough for the domains in flight and their report hosts
_PRIVATE_MARKER = "===BEGIN PRIVATE DOMAINS==="
_VERSION = re.compile(r"^//\s*VERSION:\s*(\d{4}-\d{2}-\d{2})")


# What a suffix is, in `SuffixList.rules` (bits): a rule itself, the `*.` rule below it, the
# `!` exception rule of it. 0: only on the way to a longer rule, which lets a lookup stop at the
# first suffix that is not in the table.
_RULE = 1
_WILDCARD = 2
_EXCEPTION = 4


@dataclass(frozen=True, slots=True)
class SuffixList:
    """A loaded list: where it came from, its date (`// VERSION:` line), whether its PRIVATE
    section is in, and its rules: every suffix of every rule (`compute.amazonaws.com`,
    `amazonaws.com`, `com`) → what it is (`_RULE`, `_WILDCARD`, `_EXCEPTION` bits, or 0)."""

    path: Path
    date: str | None
    private: bool
    rules: dict[str, int]

    def suffix_labels(self, labels: list[str]) -> int:
        """How many of the rightmost `labels` of a name (A-labels, lower case) are its public
        suffix: the longest matching rule's, an exception's minus one, or 1 (rule `*`)."""
        rules = self.rules
        matched = 1
        exception = 0
        above = 0  # what the suffix one label shorter is
        suffix = ""
        for depth in range(1, len(labels) + 1):
            label = labels[-depth]
            suffix = label if depth == 1 else f"{label}.{suffix}"
            if above & _WILDCARD:
                matched = depth  # `*.<suffix one label shorter>` matches this suffix
            kind = rules.get(suffix)
            if kind is None:
                break  # no rule is this suffix or ends with it
            if kind & _EXCEPTION:
                exception = depth
            elif kind & _RULE:
                matched = depth
            above = kind
        return exception - 1 if exception else matched


def _ascii_rule(rule: str) -> str:
    """A PSL rule with U-labels turned into A-labels (UTS46, non-transitional)."""
    if rule.isascii():
        return rule.lower()
    prefix, body = ("!", rule[1:]) if rule.startswith("!") else ("", rule)
    labels = body.split(".")
    try:
        mapped = [
            label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
            for label in labels
        ]
    except (idna.IDNAError, UnicodeError) as exc:
        raise InputError(f"a public suffix rule IDNA cannot encode: {rule!r}: {exc}") from exc
    return prefix + ".".join(mapped).lower()


def _rule_table(rules: list[str]) -> dict[str, int]:
    """`SuffixList.rules` of the rules as read (A-labels, lower case)."""
    table: dict[str, int] = {}
    for rule in rules:
        if rule.startswith("!"):
            name, kind = rule[1:], _EXCEPTION
        elif rule.startswith("*."):
            name, kind = rule[2:], _WILDCARD
        else:
            name, kind = rule, _RULE
        if "*" in name:
            raise InputError(f"a public suffix rule with `*` other than leftmost: {rule!r}")
        table[name] = table.get(name, 0) | kind
        while "." in name:  # the suffixes on the way to the rule
            name = name.split(".", 1)[1]
            table.setdefault(name, 0)
    return table


def _read_rules(path: Path, private: bool) -> tuple[list[str], str | None]:
    """The rules of a list file (first word of each non-comment line) and its VERSION date."""
    rules: list[str] = []
    date = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the public suffix list {path}: {exc}") from exc
    for line in lines:
        text = line.strip()
        if date is None and (found := _VERSION.match(text)):
            date = found.group(1)
        if _PRIVATE_MARKER in text and not private:
            break
        if text and not text.startswith("//"):
            rules.append(_ascii_rule(text.split()[0]))
    return rules, date


def read_list(path: Path = DEFAULT_LIST, *, private: bool = True) -> SuffixList:
    """Read and parse a list file without making it the current one."""
    rules, date = _read_rules(Path(path), private)
    if not rules:
        raise InputError(f"the public suffix list {path} holds no rules")
    return SuffixList(Path(path), date, private, _rule_table(rules))


_current: SuffixList | None = None


def load(path: Path = DEFAULT_LIST, *, private: bool = True) -> SuffixList:
    """Make the list at `path` the one every lookup uses (and clear the lookup cache)."""
    global _current
    _current = read_list(path, private=private)
    _by_name.clear()
    return _current


def current() -> SuffixList:
    """The list in use, loading the default list on first use."""
    return _current if _current is not None else load()


def psl_date() -> str | None:
    """Date (YYYY-MM-DD) of the list in use, from its `// VERSION:` line; None if it has none."""
    return current().date


def _default_date() -> str | None:
    """Date of the bundled list, read from its header only (cheap enough at import time)."""
    try:
        with DEFAULT_LIST.open(encoding="utf-8") as lines:
            for line in lines:
                if found := _VERSION.match(line.strip()):
                    return found.group(1)
    except OSError:
        return None
    return None


#: Date of the bundled `data/public_suffix_list.dat`. After `load(other)`, use `psl_date()`.
PSL_DATE: str | None = _default_date()


def _public_suffix(ascii_name: str) -> str:
    """The public suffix of a normalised name; dots at either end are not labels (and a name
    of dots only is its own suffix)."""
    labels = ascii_name.strip(".").split(".")
    count = current().suffix_labels(labels)
    return ".".join(labels[-count:]) or ascii_name


def public_suffix(name: str) -> str:
    """The public suffix of `name` per the PSL algorithm (wildcards, exceptions, implicit `*`)."""
    ascii_name = normalise(name)
    return _public_suffix(ascii_name) if ascii_name else ""


def _organizational(ascii_name: str) -> str:
    suffix = _public_suffix(ascii_name)
    labels = ascii_name.split(".")
    keep = suffix.count(".") + 2  # RFC 7489 §3.2 step 3: the suffix plus one label
    return ".".join(labels[-keep:]) if len(labels) >= keep else ascii_name


#: `organizational_domain` by the name as given. A scan asks it about five times per domain
#: (the domain, its policy domain, each report host); a dict hit costs a tenth of normalising
#: the name again. Strings only, so the garbage collector never walks it. Emptied when full,
#: and by `load`.
_by_name: dict[str, str] = {}


def organizational_domain(name: str) -> str:
    """The organizational domain of `name` (RFC 7489 §3.2); a public suffix is its own.

    `name` is normalised first (lower case, no trailing dot, A-labels), so `WWW.Example.COM.`
    and `www.example.com` give the same `example.com`.
    """
    found = _by_name.get(name)
    if found is None:
        ascii_name = normalise(name)
        found = _organizational(ascii_name) if ascii_name else ""
        if len(_by_name) >= CACHE_SIZE:
            _by_name.clear()
        _by_name[name] = found
    return found

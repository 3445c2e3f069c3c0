"""Organizational domains (RFC 7489 §3.2) from the Public Suffix List.

RFC 7489 §3.2 defines the organizational domain as the public suffix of a name plus one more
label, where the public suffix comes from "a public suffix list". We use publicsuffix2's
`PublicSuffixList` (its trie and API), fed with the current `data/public_suffix_list.dat`
instead of the copy of 2019 that ships inside publicsuffix2.

Decisions, documented because they change verdicts:

- The PRIVATE section is included (the whole file, as publicsuffix.org asks consumers to use it
  and as most DMARC implementations load it). So `alice.github.io` and `bob.github.io` are
  two organizations, not one `github.io`. `load(path, private=False)` keeps the ICANN section only.
- publicsuffix2 2.20191221 marks every intermediate trie node as a rule: a list holding
  `*.compute.amazonaws.com` but not `amazonaws.com` would make `amazonaws.com` a public suffix,
  so `foo.amazonaws.com` would be its own organization. `_PublicSuffixTrie` fixes that: nodes
  only a longer rule passes through are not rules (PSL algorithm: the longest *matching rule*).
- A name under an unlisted TLD follows the PSL's implicit `*` rule: `www.host.internal` →
  `host.internal` (publicsuffix2's `get_sld` would return `internal`).
- A name that is itself a public suffix (`co.uk`, `com`, `anything.ck`) is its own
  organizational domain.
- Rules are converted to A-labels with UTS46 non-transitional mapping, as `survey.input.stream`
  converts input names, so both sides compare in the same form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import idna
from publicsuffix2 import PublicSuffixList

from survey import DATA_DIR
from survey.errors import InputError
from survey.input.names import normalise

#: The list shipped with the repository.
DEFAULT_LIST = DATA_DIR / "public_suffix_list.dat"
#: Lookups cached per process; organizational domains repeat a lot across a scan.
CACHE_SIZE = 65_536  # names; enough for the domains in flight and their report hosts
_PRIVATE_MARKER = "===BEGIN PRIVATE DOMAINS==="
_VERSION = re.compile(r"^//\s*VERSION:\s*(\d{4}-\d{2}-\d{2})")


class _PublicSuffixTrie(PublicSuffixList):
    """publicsuffix2's trie, where a node that only lies on the path of a longer rule is no rule.

    Such nodes carry `None` instead of 0 (rule) or 1 (exception rule).
    """

    def _find_node(self, parent: list[Any], parts: list[str]) -> list[Any]:
        if not parts:
            return parent
        if len(parent) == 1:
            parent.append({})
        child = parts.pop()
        node = parent[1].setdefault(child, [None])
        return self._find_node(node, parts)

    def _lookup_node(
        self, matches: list[int | None], depth: int, parent: Any, parts: list[str], wildcard: bool
    ) -> None:
        if wildcard and depth == 1:
            matches[-depth] = 0  # the implicit "*" rule of the PSL algorithm
        if parent in (0, 1, None) or depth > len(parts):
            return
        children = parent[1]
        for name in ("*", parts[-depth]):
            child = children.get(name)
            if child is None or (name == "*" and not wildcard):
                continue
            negate = child if child in (0, 1) else child[0]
            if negate is not None:
                matches[-depth] = negate
            self._lookup_node(matches, depth + 1, child, parts, wildcard)

    def get_tld(self, domain: str, wildcard: bool = True, strict: bool = False) -> str | None:
        """The public suffix. An exception rule prevails and yields the rule minus its leftmost
        label (PSL algorithm step 5), whether or not that shorter name is itself a rule."""
        if not domain:
            return None
        parts = domain.lower().strip(".").split(".")
        if strict and (self.root in (0, 1) or parts[-1] not in self.root[1]):
            return None
        hits: list[int | None] = [None] * len(parts)
        self._lookup_node(hits, 1, self.root, parts, wildcard)
        if 1 in hits:
            return ".".join(parts[hits.index(1) + 1 :])
        return ".".join(parts[hits.index(0) :]) if 0 in hits else None


@dataclass(frozen=True, slots=True)
class SuffixList:
    """A loaded list: where it came from, its date (`// VERSION:` line), and the trie."""

    path: Path
    date: str | None
    private: bool
    trie: _PublicSuffixTrie


def _ascii_rule(rule: str) -> str:
    """A PSL rule with U-labels turned into A-labels (UTS46, non-transitional)."""
    if rule.isascii():
        return rule.lower()
    prefix, body = ("!", rule[1:]) if rule.startswith("!") else ("", rule)
    labels = body.split(".")
    mapped = [
        label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
        for label in labels
    ]
    return prefix + ".".join(mapped).lower()


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
    return SuffixList(Path(path), date, private, _PublicSuffixTrie(rules, idna=False))


_current: SuffixList | None = None


def load(path: Path = DEFAULT_LIST, *, private: bool = True) -> SuffixList:
    """Make the list at `path` the one every lookup uses (and clear the lookup cache)."""
    global _current
    _current = read_list(path, private=private)
    _by_name.clear()
    return _current


#: Same as `load`, by the name the brief also uses.
set_list = load


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


def public_suffix(name: str) -> str:
    """The public suffix of `name` per the PSL algorithm (wildcards, exceptions, implicit `*`)."""
    ascii_name = normalise(name)
    if not ascii_name:
        return ""
    return current().trie.get_tld(ascii_name, wildcard=True, strict=False) or ascii_name


def _organizational(ascii_name: str) -> str:
    suffix = public_suffix(ascii_name)
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

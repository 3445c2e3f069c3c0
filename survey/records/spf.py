"""SPF records (RFC 7208): recognise, parse and check one TXT text; pick a domain's record.

Follows the ABNF of RFC 7208 §4.6.1 (record and terms), §5 (mechanisms), §6 (modifiers) and
§7.1 (macro syntax), and record selection of §4.5. Pure: text in, `SpfRecord` out, every problem
collected as a `Problem(code, context)`. Nothing is looked up or expanded.
"""

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.records.tagvalue import excerpt, raw_byte_problem
from survey.schema.codes import SpfCode
from survey.schema.values import ProblemKind, SpfAll, Status

SPF_ERRORS = SpfCode.table(ProblemKind.ERROR)
SPF_WARNINGS = SpfCode.table(ProblemKind.WARNING)
SPF_CODES = SpfCode.table()

_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_MODIFIER = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9\-_.]*)=(?P<value>.*)", re.DOTALL)
_DIRECTIVE = re.compile(
    r"(?P<qualifier>[+\-?~]?)(?P<name>[A-Za-z][A-Za-z0-9]*)(?P<rest>.*)", re.DOTALL
)
# §7.1: macro-expand / macro-literal. Letters and the "r" transformer are ABNF strings, so
# case-insensitive; uppercase macros are URL-escaped on expansion (§7.3).
_MACRO_TOKEN = re.compile(
    r"%\{(?P<letter>[A-Za-z])(?P<digits>[0-9]*)[rR]?[.\-+,/_=]*\}|%[%_\-]|(?P<literal>[\x21-\x24\x26-\x7e])"
)
_EXP_ONLY_LETTERS = frozenset("crt")  # §7.1: allowed only in "exp" text, not in a domain-spec
_MACRO_LETTERS = frozenset("slodiphcrtv")
# §7.1 domain-end = ( "." toplabel [ "." ] ) / macro-expand
_TOPLABEL_END = re.compile(
    r".*\.(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9])\.?", re.DOTALL
)
# §5.6 ip4-network: qnum "." qnum "." qnum "." qnum, no leading zeros
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_IP4_NETWORK = re.compile(rf"{_QNUM}(?:\.{_QNUM}){{3}}")
_CIDR = re.compile(r"0|[1-9][0-9]*")  # §5.6 cidr-length: no leading zeros
_DUAL_CIDR = re.compile(r"(?P<v4>/[0-9]*)?(?P<v6>//[0-9]*)?\Z")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# The most common terms' plain forms, each matching only what the general steps accept with no
# problem: `ip4:` a dotted quad with an optional /0-32 (§5.6), and a domain-spec of
# macro-literals only (no `%`), whose one check left is its domain-end (§7.1).
_PLAIN_IP4 = re.compile(
    rf"([+\-?~]?)(?i:ip4):({_QNUM}(?:\.{_QNUM}){{3}}(?:/(?:[0-9]|[12][0-9]|3[0-2]))?)"
)
_MACRO_LITERALS = re.compile(r"[\x21-\x24\x26-\x7e]+")
_RECORD_SIZE_LIMIT = 512  # §3.4


@dataclass(frozen=True, slots=True)
class Term:
    """One term of an SPF record (§4.6.1). `qualifier` is as written ("" means the default "+",
    and modifiers have none); `name` is lower-cased; `argument` is what follows the name and its
    ":" or "=" (a/mx CIDR suffixes included, e.g. "/24" for "mx/24"), None when nothing does."""

    kind: str  # "mechanism" or "modifier"
    qualifier: str
    name: str
    argument: str | None


@dataclass(frozen=True, slots=True)
class SpfRecord:
    """One TXT text parsed as SPF. `all` is the qualifier of the first all mechanism ("-all",
    "~all", "?all", "+all"; bare all is "+all"), else "redirect" or "none"; None when the text is
    not an SPF record at all. `redirect` and `exp` hold the first such modifier's domain-spec."""

    text: str
    terms: tuple[Term, ...]
    all: SpfAll | None
    redirect: str | None
    exp: str | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class SpfDiscovery:
    """What the TXT texts of one domain amount to for SPF (§4.5)."""

    records: tuple[SpfRecord, ...]  # the texts that are SPF records
    record: SpfRecord | None  # the one, when exactly one
    errors: tuple[Problem, ...]  # discovery-level: multiple_records
    warnings: tuple[Problem, ...]
    status: Status  # valid, invalid or absent


def is_spf(text: str) -> bool:
    """§4.5: the text begins with the version section "v=spf1" (case-insensitive, §4.6.1 ABNF
    string), followed by a space or the end of the text."""
    return text[:6].lower() == "v=spf1" and text[6:7] in ("", " ")


def discover_spf(texts: Sequence[str]) -> SpfDiscovery:
    """Select a domain's SPF record from its TXT texts (§4.5): texts that are not SPF are
    ignored; none means `absent`; several are a permanent error (`multiple_records`)."""
    records = tuple(parse_spf_record(text) for text in texts if is_spf(text))
    if not records:
        return SpfDiscovery(records, None, (), (), Status.ABSENT)
    if len(records) > 1:
        problem = Problem(SpfCode.MULTIPLE_RECORDS, f"{len(records)} SPF records")
        return SpfDiscovery(records, None, (problem,), (), Status.INVALID)
    record = records[0]
    return SpfDiscovery(records, record, (), (), Status.INVALID if record.errors else Status.VALID)


# Records repeat across domains (`v=spf1 -all`, the big providers' includes, `v=DMARC1; p=none`):
# the result is frozen and never depends on anything but the text, so parse each text once
# (once it has come back: a text met once is not worth keeping, see survey.records.memo).
@repeated_memo(maxsize=4096)
def parse_spf_record(text: str) -> SpfRecord:
    """Parse one TXT text as an SPF record (§4.6.1 `record = version terms *SP`); never raises."""
    if not is_spf(text):
        problem = Problem(SpfCode.UNKNOWN_TERM, f"not an SPF record: '{excerpt(text)}'")
        return SpfRecord(text, (), None, None, None, (problem,), ())
    errors: list[Problem] = []
    warnings: list[Problem] = []
    terms: list[Term] = []
    for word in text[6:].split(" "):  # terms = *( 1*SP ( directive / modifier ) )
        if word:
            term, found = _parse_term(word)
            if term is not None:
                terms.append(term)
            for problem in found:
                (warnings if problem.code in SPF_WARNINGS else errors).append(problem)
    errors.extend(_record_errors(text, terms))
    warnings.extend(_record_warnings(text, terms))
    return SpfRecord(
        text=text,
        terms=tuple(terms),
        all=_all_result(terms),
        redirect=_first_argument(terms, "redirect"),
        exp=_first_argument(terms, "exp"),
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def _parse_term(word: str) -> tuple[Term | None, list[Problem]]:
    """One term: a modifier (`name "=" ...`, §6) or a directive (`[qualifier] mechanism`, §5)."""
    plain = _PLAIN_IP4.fullmatch(word)
    if plain is not None:
        return Term("mechanism", plain[1], "ip4", plain[2]), []
    modifier = _MODIFIER.fullmatch(word) if "=" in word else None
    if modifier is not None:
        name, value = modifier["name"].lower(), modifier["value"]
        return Term("modifier", "", name, value), _modifier_problems(name, value, word)
    directive = _DIRECTIVE.fullmatch(word)
    if directive is None or directive["name"].lower() not in _MECHANISMS:
        return None, [Problem(SpfCode.UNKNOWN_TERM, f"'{excerpt(word)}'")]
    name, rest = directive["name"].lower(), directive["rest"]
    argument = rest[1:] if rest.startswith(":") else rest or None
    term = Term("mechanism", directive["qualifier"], name, argument)
    return term, _term_problems(word, _mechanism_problems(name, rest))


def _term_problems(word: str, found: list[tuple[str, str]]) -> list[Problem]:
    """(code, reason) pairs found in one term, as problems whose context shows the term."""
    if not found:
        return []
    return [Problem(code, f"'{excerpt(word)}': {why}") for code, why in found]


def _modifier_problems(name: str, value: str, word: str) -> list[Problem]:
    """redirect/exp take a domain-spec (§6.1, §6.2); others are ignored but must hold a
    macro-string (§4.6.1 unknown-modifier)."""
    if name in ("redirect", "exp"):
        return _term_problems(word, _domain_spec_problems(value))
    problems = _term_problems(word, _macro_string_problems(value))
    hint = " (a mechanism written as a modifier)" if name in _MECHANISMS else ""
    return [*problems, Problem(SpfCode.UNKNOWN_MODIFIER, f"'{excerpt(word)}'{hint}")]


def _mechanism_problems(name: str, rest: str) -> list[tuple[str, str]]:
    """(code, reason) pairs for the text after a mechanism's name (§5.1-§5.7)."""
    if name == "all":
        return [] if not rest else [(SpfCode.MECHANISM_SYNTAX, "all takes no argument")]
    if name in ("ip4", "ip6"):
        return _ip_problems(name, rest)
    # a, mx: [ ":" domain-spec ] [ dual-cidr-length ]; ptr: [ ":" domain-spec ];
    # include, exists: ":" domain-spec
    domain, problems = _split_dual_cidr(rest) if name in ("a", "mx") else (rest, [])
    if not domain:
        needs_domain = name in ("include", "exists")
        return (
            [(SpfCode.MECHANISM_SYNTAX, f"{name} needs ':' and a domain")]
            if needs_domain
            else problems
        )
    if not domain.startswith(":"):
        return [(SpfCode.MECHANISM_SYNTAX, f"expected ':' after {name}"), *problems]
    return [*_domain_spec_problems(domain[1:]), *problems]


def _split_dual_cidr(rest: str) -> tuple[str, list[tuple[str, str]]]:
    """§5.6 `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]` off the end of a
    or mx: the text before it, and its problems."""
    cidr = _DUAL_CIDR.search(rest)  # always matches, if only the empty suffix
    if cidr is None:
        return rest, []
    problems = []
    for group, limit in (("v4", 32), ("v6", 128)):
        if cidr[group] is not None:
            problems.extend(_cidr_problems(cidr[group].lstrip("/"), limit))
    return rest[: cidr.start()], problems


def _cidr_problems(digits: str, limit: int) -> list[tuple[str, str]]:
    """§5.6 ip4-cidr-length 0-32, ip6-cidr-length 0-128, written without leading zeros."""
    if not _CIDR.fullmatch(digits) or len(digits) > 3 or int(digits) > limit:
        return [(SpfCode.MECHANISM_SYNTAX, f"bad CIDR length /{excerpt(digits)} (0-{limit})")]
    return []


def _ip_problems(name: str, rest: str) -> list[tuple[str, str]]:
    """§5.6 `ip4 ":" ip4-network [ ip4-cidr-length ]`, `ip6 ":" ip6-network [ ip6-cidr-length ]`."""
    if not rest.startswith(":"):
        return [(SpfCode.MECHANISM_SYNTAX, f"{name} needs ':' and a network")]
    network, slash, length = rest[1:].partition("/")
    problems = [] if not slash else _cidr_problems(length, 32 if name == "ip4" else 128)
    if name == "ip4" and not _IP4_NETWORK.fullmatch(network):
        problems.insert(
            0, (SpfCode.MECHANISM_SYNTAX, f"'{excerpt(network)}' is not a dotted-quad IPv4 address")
        )
    if name == "ip6" and not _is_ip6(network):
        problems.insert(
            0, (SpfCode.MECHANISM_SYNTAX, f"'{excerpt(network)}' is not an IPv6 address")
        )
    return problems


def _is_ip6(network: str) -> bool:
    """RFC 4291 §2.2 text forms; the ipaddress module's scope-id suffix (%...) is not one."""
    if not re.fullmatch(r"[0-9A-Fa-f:.]+", network):
        return False
    try:
        ipaddress.IPv6Address(network)
    except ValueError:
        return False
    return True


def _domain_spec_problems(spec: str) -> list[tuple[str, str]]:
    """§7.1 `domain-spec = macro-string domain-end`: macro errors are `macro_syntax`, anything
    else (empty, characters outside macro-literal, bad domain-end) is `mechanism_syntax`."""
    if not spec:
        return [(SpfCode.MECHANISM_SYNTAX, "empty domain")]
    if _MACRO_LITERALS.fullmatch(spec):  # every character a macro-literal token, no macro
        if _TOPLABEL_END.fullmatch(spec):
            return []
        return [(SpfCode.MECHANISM_SYNTAX, "domain must end in '.' and a top label, or a macro")]
    tokens = list(_MACRO_TOKEN.finditer(spec))
    problems = _macro_string_problems(spec, tokens, in_domain=True)
    # domain-end: either the spec ends with a macro-expand, or what follows the last one does
    # with "." toplabel [ "." ] (so "a:192.0.2.1" and "include:localhost" do not qualify).
    tail = spec[max((t.end() for t in tokens if t["literal"] is None), default=0) :]
    if tail and not _TOPLABEL_END.fullmatch(tail):
        problems.append(
            (SpfCode.MECHANISM_SYNTAX, "domain must end in '.' and a top label, or a macro")
        )
    return problems


def _macro_string_problems(
    text: str, tokens: list[re.Match[str]] | None = None, in_domain: bool = False
) -> list[tuple[str, str]]:
    """§7.1 `macro-string = *( macro-expand / macro-literal )`, every character accounted for."""
    tokens = list(_MACRO_TOKEN.finditer(text)) if tokens is None else tokens
    problems = []
    position = 0
    for token in [*tokens, None]:
        gap_end = len(text) if token is None else token.start()
        if gap_end > position:  # characters no token covers
            problems.append(_stray_problem(text, position))
        if token is not None:
            problems.extend(_macro_letter_problems(token, in_domain))
            position = token.end()
    return problems


def _stray_problem(text: str, position: int) -> tuple[str, str]:
    char = text[position]
    if char == "%":
        return (
            "macro_syntax",
            f"bad macro '{excerpt(text[position : position + 6])}' at offset {position}",
        )
    return (
        SpfCode.MECHANISM_SYNTAX,
        f"character '{excerpt(char)}' not allowed at offset {position}",
    )


def _macro_letter_problems(token: re.Match[str], in_domain: bool) -> list[tuple[str, str]]:
    """§7.1 macro-letter, §7.3 digit transformer (MUST be nonzero)."""
    letter = token["letter"]
    if letter is None:
        return []
    shown = excerpt(token.group())
    if letter.lower() not in _MACRO_LETTERS:
        return [(SpfCode.MACRO_SYNTAX, f"unknown macro letter in '{shown}'")]
    if in_domain and letter.lower() in _EXP_ONLY_LETTERS:
        return [(SpfCode.MACRO_SYNTAX, f"'{shown}' is allowed only in exp text")]
    if token["digits"] and not token["digits"].strip("0"):
        return [(SpfCode.MACRO_SYNTAX, f"zero digit transformer in '{shown}'")]
    return []


def _record_errors(text: str, terms: list[Term]) -> list[Problem]:
    """Whole-record errors: non-ASCII text (§4.6.1 allows only ASCII), modifiers twice (§6)."""
    errors = []
    found = _NON_ASCII.search(text)
    if found is not None:
        errors.append(
            Problem(SpfCode.NON_ASCII, f"'{excerpt(found.group())}' at position {found.start()}")
        )
    for name in ("redirect", "exp"):
        count = len(_modifiers(terms, name))
        if count > 1:
            errors.append(Problem(SpfCode.DUPLICATE_MODIFIER, f"{name} {count} times"))
    return errors


def _record_warnings(text: str, terms: list[Term]) -> list[Problem]:
    """Whole-record warnings: ptr, +all, unreachable terms, no all, size, raw bytes."""
    warnings = [
        Problem(SpfCode.PTR_MECHANISM, _shown(t))
        for t in terms
        if t.kind == "mechanism" and t.name == "ptr"
    ]
    warnings.extend(_all_warnings(terms))
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > _RECORD_SIZE_LIMIT:
        warnings.append(Problem(SpfCode.RECORD_OVER_512, f"{size} bytes"))
    raw = raw_byte_problem(text)
    return warnings if raw is None else [*warnings, raw]


def _all_warnings(terms: list[Term]) -> list[Problem]:
    """§5.1: mechanisms after all are never tested and redirect beside all is ignored (§6.1)."""
    mechanisms = [term for term in terms if term.kind == "mechanism"]
    at = next((index for index, term in enumerate(mechanisms) if term.name == "all"), None)
    redirect = next(iter(_modifiers(terms, "redirect")), None)
    if at is None:
        return (
            []
            if redirect is not None
            else [Problem(SpfCode.NO_ALL, "the default result is neutral")]
        )
    first = mechanisms[at]
    warnings = []
    if first.qualifier in ("", "+"):
        warnings.append(Problem(SpfCode.PLUS_ALL, _shown(first)))
    after = mechanisms[at + 1 :]
    if after:
        warnings.append(
            Problem(
                "terms_after_all", f"{len(after)} after {_shown(first)}, first {_shown(after[0])}"
            )
        )
    if redirect is not None:
        warnings.append(
            Problem(SpfCode.TERMS_AFTER_ALL, f"{_shown(redirect)} ignored beside {_shown(first)}")
        )
    return warnings


def _all_result(terms: list[Term]) -> SpfAll:
    first = next((t for t in terms if t.kind == "mechanism" and t.name == "all"), None)
    if first is not None:
        return SpfAll((first.qualifier or "+") + "all")
    return SpfAll.REDIRECT if _first_argument(terms, "redirect") is not None else SpfAll.NONE


def _first_argument(terms: list[Term], modifier: str) -> str | None:
    return next((term.argument for term in _modifiers(terms, modifier)), None)


def _modifiers(terms: list[Term], name: str) -> list[Term]:
    return [term for term in terms if term.kind == "modifier" and term.name == name]


def _shown(term: Term) -> str:
    """A term as it reads in a record, for problem contexts."""
    if term.kind == "modifier":
        return f"'{term.name}={excerpt(term.argument or '')}'"
    argument = term.argument or ""
    separator = ":" if argument and not argument.startswith("/") else ""
    return f"'{term.qualifier}{term.name}{separator}{excerpt(argument)}'"

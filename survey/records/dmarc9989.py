"""DMARC policy records under RFC 9989 (DMARCbis, obsoleting RFC 7489 and RFC 9091).

Pure: text in, `Dmarc9989Record` out, every problem a `Problem(code, context)`. What changes
from RFC 7489 (section numbers as in draft-ietf-dmarc-dmarcbis-41):

- §4.7: the tags are adkim, aspf, fo, np, p, psd, rua, ruf, sp, t, v; "unknown tags MUST be
  ignored", so pct, rf and ri (removed) are warnings only, whatever their value.
- §4.7 v: `v=DMARC1` MUST be the first tag, or the whole text is ignored; no other order is
  required (no `p_not_second`).
- §4.7 p: RECOMMENDED, not required: a record without p "is treated as if it included p=none"
  (`p_missing` is a warning). §4.10.1 can be read as sending a record without a valid p to its
  rua rule; we follow §4.7, which speaks of the absent tag, and keep §4.10.1's rule for a p
  that is present and invalid.
- §4.8: the `!size` suffix of a report URI is obsolete syntax that reporters ignore (a warning,
  and no 64-bit limit); `fo` follows the `dmarc-fo` rule.
- Invalid values stay errors of the record (the record is `invalid`), and for the policy they
  count as §4.8 says: "discarded in favor of default values (if any) or ignored outright" (a bad
  psd counts as u, a bad t as n); a bad p, sp or np sends the record to §4.10.1's rua rule.

The tag-list is split by the lexer the RFC 7489 parser uses (§4.7: the records follow RFC 6376's
tag-value syntax), and texts are discarded by the same rule (`discard_reason`); this module
judges the tags anew, from the text (`parse_dmarc9989_record`) or from the RFC 7489 parser's
record of it (`dmarc9989_of`, which lexes nothing again). Duplicate tags are an error (RFC 6376
§3.2) and the first occurrence is read, as for RFC 7489.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from survey.records.dmarc import DmarcRecord, discard_reason
from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.records.reporturi import entries, uri_facts
from survey.records.tagvalue import Tag, excerpt, raw_byte_problem, split_tags
from survey.schema.codes import Dmarc9989Code as Code
from survey.schema.values import Policy, ProblemKind

DMARC9989_ERRORS = Code.table(ProblemKind.ERROR)
DMARC9989_WARNINGS = Code.table(ProblemKind.WARNING)
DMARC9989_CODES = Code.table()

_POLICIES = frozenset({"none", "quarantine", "reject"})
#: What `t=y` applies instead (§4.7 t): one level below the policy; none stays none.
_TESTING = {"reject": Policy.QUARANTINE, "quarantine": Policy.NONE, "none": Policy.NONE}
#: Tags RFC 7489 defined and RFC 9989 removed (Appendix C): now unknown, so ignored.
REMOVED_TAGS = frozenset({"pct", "rf", "ri"})
_LEXER_CODES = frozenset({"tag_syntax", "duplicate_tag"})


@dataclass(frozen=True, slots=True)
class Dmarc9989Record:
    """One TXT text from a `_dmarc` name, judged by RFC 9989.

    `is_dmarc` is False for texts the tree walk discards (§4.10 step 2); they carry exactly one
    error, why. Tag fields hold the first occurrence as written, lower-cased."""

    text: str
    is_dmarc: bool
    p: str | None = None
    sp: str | None = None
    np: str | None = None
    psd: str | None = None
    t: str | None = None
    has_valid_rua: bool = False  # a syntactically valid rua URI (§4.10.1)
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def psd_flag(self) -> str:
        """y, n or u: a missing or invalid psd counts as the default u (§4.7, §4.8)."""
        return self.psd if self.psd in ("y", "n") else "u"

    @property
    def stops_walk(self) -> bool:
        """§4.10 steps 2 and 6: a single record with psd=y or psd=n ends the tree walk."""
        return self.psd in ("y", "n")

    @property
    def np_applies(self) -> bool:
        """Whether the policy for a subdomain depends on its existence (a valid np is given)."""
        return self.np in _POLICIES

    def policy(self, subdomain: bool, exists: bool) -> Policy | None:
        """What a receiver applies (§4.10.1), None for no DMARC processing.

        `subdomain`: the record is an organizational domain's or a PSD's, found for a name
        below it; `exists`: that name exists (not NXDOMAIN, RFC 8020)."""
        if not self.is_dmarc:
            return None
        if not all(value is None or value in _POLICIES for value in (self.p, self.sp, self.np)):
            return Policy.NONE if self.has_valid_rua else None
        chosen = self.p or "none"  # §4.7: a record without p is treated as p=none
        if subdomain:
            if not exists and self.np is not None:
                chosen = self.np
            elif self.sp is not None:
                chosen = self.sp
        return _TESTING[chosen] if self.t == "y" else Policy(chosen)


# Keyed by the text, as the RFC 7489 parser is; the same texts repeat (a PSD's record, an
# organization's for each subdomain). Not built on that parser's cached result: asking it again
# for a text met once would keep that text's record (the cache keeps what comes back), which is
# what the cache exists to avoid for the many texts one domain alone publishes.
@repeated_memo(maxsize=4096)
def parse_dmarc9989_record(text: str) -> Dmarc9989Record:
    """Judge one TXT text from a `_dmarc` name by RFC 9989; never raises."""
    discard = discard_reason(text)
    if discard is not None:  # the same texts are discarded by both (§4.10 step 2, §4.7 v)
        return Dmarc9989Record(text, False, errors=(discard,))
    tags, lexer_problems = split_tags(text)
    raw = raw_byte_problem(text)
    return _judged(text, tags, list(lexer_problems), [raw] if raw is not None else [])


def dmarc9989_of(lexed: DmarcRecord) -> Dmarc9989Record:
    """The same judgment of a text the RFC 7489 parser has read already: the discard rule, the
    tags and the lexer's problems are the same for both RFCs, so nothing is lexed again."""
    if not lexed.is_dmarc:
        return Dmarc9989Record(lexed.text, False, errors=lexed.errors)
    lexer = [p for p in lexed.errors if p.code in _LEXER_CODES]
    raw = [p for p in lexed.warnings if p.code == Code.NON_UTF8]
    return _judged(lexed.text, lexed.tags, lexer, raw)


def _judged(
    text: str, tags: Iterable[Tag], errors: list[Problem], warnings: list[Problem]
) -> Dmarc9989Record:
    """A DMARC record's tags judged (§4.7, §4.8); `errors` and `warnings` start with the
    lexer's problems and the raw-byte warning."""
    firsts: dict[str, Tag] = {}
    for tag in tags:
        firsts.setdefault(tag.name, tag)
    if "p" not in firsts:
        warnings.append(Problem(Code.P_MISSING, "no p tag"))
    for found in _tag_problems(firsts.values()):
        (warnings if found.code in DMARC9989_WARNINGS else errors).append(found)
    value = {name: tag.value.lower() for name, tag in firsts.items()}
    return Dmarc9989Record(
        text=text,
        is_dmarc=True,
        p=value.get("p"),
        sp=value.get("sp"),
        np=value.get("np"),
        psd=value.get("psd"),
        t=value.get("t"),
        has_valid_rua="rua" in firsts and _any_valid_uri(firsts["rua"].value),
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def _any_valid_uri(value: str) -> bool:
    return any(entry and uri_facts(entry).problem is None for entry in entries(value))


def _tag_problems(tags: Iterable[Tag]) -> list[Problem]:
    problems = []
    for tag in tags:
        check = _TAG_CHECKS.get(tag.name)
        if check is not None:
            problems.extend(check(tag))
        elif tag.name in REMOVED_TAGS:
            problems.append(Problem(Code.REMOVED_TAG, f"tag {tag.raw_name!r}"))
        else:
            problems.append(Problem(Code.UNKNOWN_TAG, f"tag {tag.raw_name!r}"))
    return problems


def _uri_list_problems(tag: Tag) -> list[Problem]:
    """rua/ruf (§4.8 dmarc-urilist): each entry a URI, optionally with the obsolete !size."""
    problems = []
    for entry in entries(tag.value):
        facts = uri_facts(entry) if entry else None
        reason = "empty entry" if facts is None else facts.problem
        if reason is not None:
            problems.append(Problem(f"{tag.name}_invalid", f"'{excerpt(entry)}': {reason}"))
            continue
        if facts is not None and facts.sized:
            problems.append(Problem(Code.OBSOLETE_SIZE, f"{tag.name}: '{excerpt(entry)}'"))
        if not entry.lower().startswith("mailto:"):
            problems.append(Problem(Code.REPORT_URI_NOT_MAILTO, f"{tag.name}: '{excerpt(entry)}'"))
    return problems


_FO_OPTIONS = frozenset("01ds")


def _is_fo(value: str) -> bool:
    """§4.8 dmarc-fo: its three alternatives admit exactly the colon-separated lists of at most
    one of 0 and 1 and at most one each of d and s, in any order; no white space inside."""
    options = value.lower().split(":")
    return (
        all(option in _FO_OPTIONS for option in options)
        and len(set(options)) == len(options)
        and not {"0", "1"} <= set(options)
    )


def _one_of(code: str, allowed: frozenset[str]) -> Callable[[Tag], list[Problem]]:
    """A tag check: the value (case-insensitive, RFC 5234 §2.3) is one of `allowed`."""

    def check(tag: Tag) -> list[Problem]:
        if tag.value.lower() in allowed:
            return []
        return [Problem(code, f"{tag.raw_name}={excerpt(tag.value)}")]

    return check


def _fo_check(tag: Tag) -> list[Problem]:
    return [] if _is_fo(tag.value) else [Problem(Code.FO_INVALID, f"fo={excerpt(tag.value)}")]


_ALIGNMENT = frozenset({"r", "s"})
_TAG_CHECKS: dict[str, Callable[[Tag], list[Problem]]] = {
    "v": lambda tag: [],  # checked by the RFC 7489 parser's discard rule, the same here
    "p": _one_of(Code.P_INVALID, _POLICIES),
    "sp": _one_of(Code.SP_INVALID, _POLICIES),
    "np": _one_of(Code.NP_INVALID, _POLICIES),
    "psd": _one_of(Code.PSD_INVALID, frozenset({"y", "n", "u"})),
    "t": _one_of(Code.T_INVALID, frozenset({"y", "n"})),
    "adkim": _one_of(Code.ADKIM_INVALID, _ALIGNMENT),
    "aspf": _one_of(Code.ASPF_INVALID, _ALIGNMENT),
    "fo": _fo_check,
    "rua": _uri_list_problems,
    "ruf": _uri_list_problems,
}

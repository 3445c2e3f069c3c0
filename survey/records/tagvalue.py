"""The tag=value list lexer shared by DMARC and DKIM records.

Grammar: RFC 6376 §3.2 (adopted by RFC 7489 §6.4, where `dmarc-sep = *WSP ";" *WSP` and
every tag is `name *WSP "=" *WSP value`):

    tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
    tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
    tag-name  =  ALPHA *ALNUMPUNC
    tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
    tval      =  1*VALCHAR
    VALCHAR   =  %x21-3A / %x3C-7E

The lexer only splits and checks that grammar; what a tag means is the record module's job.
It also holds the two small helpers every record parser needs: showing a piece of untrusted text
safely inside a problem context, and spotting raw (non-UTF-8) bytes.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from survey.records.memo import repeated_memo
from survey.records.problem import Problem

# FWS of RFC 5322 reduced to its characters: the lexer accepts WSP and CR/LF around tags.
_FWS = " \t\r\n"
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Anything that is neither VALCHAR nor folding white space (RFC 6376 §3.2).
_BAD_VALUE_CHAR = re.compile(r"[^\x21-\x3a\x3c-\x7e \t\r\n]")
# A tag-spec without any mistake, in one match: FWS, tag-name, FWS, "=", FWS, tag-value, FWS
# (the tval characters and the FWS between them are disjoint, so it cannot backtrack badly).
_CLEAN_TAG_SPEC = re.compile(
    r"[ \t\r\n]*([A-Za-z][A-Za-z0-9_]*)[ \t\r\n]*=[ \t\r\n]*"
    r"((?:[\x21-\x3a\x3c-\x7e]+(?:[ \t\r\n]+[\x21-\x3a\x3c-\x7e]+)*)?)[ \t\r\n]*"
)
# Text decoded with errors="surrogateescape" carries each undecodable byte as U+DC80..U+DCFF.
_RAW_BYTE = re.compile("[\udc80-\udcff]")
_EXCERPT_LIMIT = 60


@dataclass(frozen=True, slots=True)
class Tag:
    """One `name=value` pair of a tag-list (RFC 6376 §3.2)."""

    name: str  # lower-cased: tag names compare case-insensitively (RFC 7489 §6.4 ABNF strings)
    value: str  # stripped of surrounding white space, inner white space kept
    raw_name: str  # as written


def excerpt(text: str, limit: int = _EXCERPT_LIMIT) -> str:
    """`text` made safe for a problem context: control characters and raw bytes escaped (so the
    context can be stored as UTF-8), cut to `limit` characters."""
    cut = text[:limit]
    if cut.isprintable():  # the common case, without a generator step per character
        shown = cut
    else:
        shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in cut)
    return shown + ("…" if len(text) > limit else "")


def raw_byte_problem(text: str) -> Problem | None:
    """A `non_utf8` warning when the text carries surrogate-escaped raw bytes, else None."""
    if text.isascii():  # a flag of the string: no scan
        return None
    found = _RAW_BYTE.search(text)
    if found is None:
        return None
    byte = ord(found.group()) - 0xDC00
    return Problem("non_utf8", f"byte 0x{byte:02X} at position {found.start()}")


def split_tags(text: str) -> tuple[tuple[Tag, ...], tuple[Problem, ...]]:
    """Split a tag-list into tags, collecting every `tag_syntax` and `duplicate_tag` problem.

    Parts that are not `name=value` are left out of the tags and reported; a trailing `;` (with
    white space after it) is allowed. Duplicate names are all kept, in order: RFC 6376 §3.2
    makes the whole list invalid, and the record module decides which one it reads.
    """
    tags: list[Tag] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    parts = text.split(";")
    last = len(parts) - 1
    position = 0
    for index, part in enumerate(parts):
        is_trailing = index == last and index > 0
        if not is_trailing or part.strip(_FWS):
            tag, found = _lex_tag_spec(part, position)
            if found:
                problems.extend(found)
            if tag is not None:
                if tag.name in seen:
                    problems.append(
                        Problem(
                            "duplicate_tag", f"tag {tag.raw_name!r} again at position {position}"
                        )
                    )
                seen.add(tag.name)
                tags.append(tag)
        position += len(part) + 1
    return tuple(tags), tuple(problems)


def first_tag(text: str) -> Tag | None:
    """The first tag-spec of `text` when it is `name=value` (what `split_tags` would list first
    for the part before the first `;`), else None; without lexing the rest."""
    return _lex_tag_spec(text.partition(";")[0], 0)[0]


# `p=none`, `v=DMARC1`, `pct=100` and the like start most records: one Tag each, shared (frozen).
@repeated_memo(maxsize=1024)
def _clean_tag(part: str) -> Tag | None:
    """The tag of a tag-spec without any problem (position-free, so shareable), else None."""
    clean = _CLEAN_TAG_SPEC.fullmatch(part)
    if clean is None:
        return None
    name = clean[1]
    return Tag(name.lower(), clean[2], name)


def _lex_tag_spec(part: str, position: int) -> tuple[Tag | None, Sequence[Problem]]:
    """One `tag-spec`; `position` is where it starts in the record, for problem contexts."""
    tag = _clean_tag(part)
    if tag is not None:  # what the steps below find for a part without problems
        return tag, ()
    if not part.strip(_FWS):
        return None, [Problem("tag_syntax", f"empty tag at position {position}")]
    raw_name, equals, raw_value = part.partition("=")
    if not equals:
        return None, [
            Problem("tag_syntax", f"no '=' in '{excerpt(part.strip(_FWS))}' at position {position}")
        ]
    name = raw_name.strip(_FWS)
    if not _TAG_NAME.fullmatch(name):
        return None, [
            Problem("tag_syntax", f"bad tag name '{excerpt(name)}' at position {position}")
        ]
    value = raw_value.strip(_FWS)
    bad = _BAD_VALUE_CHAR.search(value)
    tag = Tag(name.lower(), value, name)
    if bad is None:
        return tag, ()
    where = (
        position + len(raw_name) + 1 + len(raw_value) - len(raw_value.lstrip(_FWS)) + bad.start()
    )
    char = excerpt(bad.group())
    return tag, [Problem("tag_syntax", f"tag {name!r}: character '{char}' at position {where}")]

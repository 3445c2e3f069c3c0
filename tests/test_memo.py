"""repeated_memo: results are kept only for arguments that come back."""

from __future__ import annotations

from survey.records.memo import repeated_memo


def counting(maxsize: int = 4):
    calls: list[str] = []

    @repeated_memo(maxsize=maxsize)
    def upper(text: str) -> str | None:
        calls.append(text)
        return None if text == "none" else text.upper()

    return upper, calls


def test_a_result_is_kept_from_the_second_call_on() -> None:
    upper, calls = counting()
    assert [upper("a") for _ in range(4)] == ["A"] * 4
    assert calls == ["a", "a"]  # seen once: computed again; seen twice: kept


def test_a_key_met_once_is_not_kept() -> None:
    upper, calls = counting()
    for text in "abc":
        assert upper(text) == text.upper()
    assert upper("a") == "A"
    assert calls == ["a", "b", "c", "a"]


def test_none_is_never_kept() -> None:
    upper, calls = counting()
    assert [upper("none") for _ in range(3)] == [None] * 3
    assert calls == ["none"] * 3


def test_bounded_and_clearable() -> None:
    upper, calls = counting(maxsize=2)
    for text in "abcabc":
        upper(text)
    assert calls == list("abcabc")
    calls.clear()
    upper("c")  # "c" was stored after "b" emptied the full store: still there
    assert calls == []
    upper.cache_clear()
    upper("c")
    upper("c")
    assert calls == ["c", "c"]


def test_wraps_the_function() -> None:
    upper, _ = counting()
    assert upper.__name__ == "upper"
    assert upper.__wrapped__("x") == "X"  # type: ignore[attr-defined]

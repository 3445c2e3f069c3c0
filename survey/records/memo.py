"""A cache for pure one-argument functions that keeps only results whose argument came back.

A scan meets two kinds of record text: the few that thousands of domains share (`v=spf1 -all`,
`v=DMARC1; p=none`, no record at all) and the many that one domain alone publishes (a `rua`
naming the domain itself). Caching the second kind buys nothing and costs a lot: the parsed
objects outlive the domain, the cyclic garbage collector promotes them to its oldest generation,
and every full collection they trigger walks every live row of the chunk. So a result is stored
only when its argument is seen a second time; the first time, only the argument's hash is kept
(an int, which the collector does not track).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
V_co = TypeVar("V_co", covariant=True)


class Memo(Protocol[K_contra, V_co]):
    def __call__(self, key: K_contra, /) -> V_co: ...

    def cache_clear(self) -> None: ...


def repeated_memo(maxsize: int) -> Callable[[Callable[[K], V]], Memo[K, V]]:
    """Decorate a pure function of one hashable argument: its result is computed once per
    argument that has been asked for twice (a None result is never stored).

    At most `maxsize` results and `8 * maxsize` hashes of arguments seen once are kept; each is
    emptied whole when full (cheaper than a least-recently-used order, and the frequent
    arguments come back at once). A plain closure: its hit costs one dict lookup and a call."""

    def decorate(function: Callable[[K], V]) -> Memo[K, V]:
        results: dict[K, V] = {}
        seen: set[int] = set()
        found_in = results.get

        def memo(key: K) -> V:
            found = found_in(key)
            if found is not None:
                return found
            value = function(key)
            if value is None:
                return value
            digest = hash(key)
            if digest in seen:
                if len(results) >= maxsize:
                    results.clear()
                results[key] = value
            else:
                if len(seen) >= 8 * maxsize:
                    seen.clear()
                seen.add(digest)
            return value

        def cache_clear() -> None:
            results.clear()
            seen.clear()

        memo.cache_clear = cache_clear  # type: ignore[attr-defined]
        return functools.update_wrapper(memo, function)  # type: ignore[return-value]

    return decorate

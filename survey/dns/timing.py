"""When the pool sends: the qps token bucket and the jittered retry backoff. Pure: the
caller passes the clock reading and the random draw."""

from dataclasses import dataclass, field

__all__ = ["JITTER", "TokenBucket", "jittered"]

# A retry waits its doubling backoff times a factor drawn uniformly from [1 - JITTER,
# 1 + JITTER): questions that failed together (an outage, a SERVFAIL burst) do not all come
# back in the same instant.
JITTER = 0.5


def jittered(delay: float, draw: float) -> float:
    """`delay` scaled by a factor in [1 - JITTER, 1 + JITTER), `draw` uniform in [0, 1)."""
    return delay * (1.0 - JITTER + 2.0 * JITTER * draw)


@dataclass(slots=True)
class TokenBucket:
    """A token bucket for the qps cap. Pure: the caller passes the clock reading.

    `reserve(now)` takes one token and says how long to wait before spending it. Tokens may
    go negative (reservations of future slots), so concurrent callers each sleep once until
    their own slot: no polling, no busy waiting. At most `burst + rate * t` tokens are spent
    in any window of `t` seconds.
    """

    rate: float
    burst: float = 1.0
    _tokens: float = field(init=False, default=0.0)
    _stamp: float | None = field(init=False, default=None)

    def reserve(self, now: float) -> float:
        if self._stamp is None:
            self._stamp, self._tokens = now, self.burst
        elapsed = max(0.0, now - self._stamp)  # a clock that steps back refills nothing
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = max(now, self._stamp)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

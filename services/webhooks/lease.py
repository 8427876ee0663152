"""What a dispatcher round knows about its lease on the deliveries it claimed.

A round can outlast its lease (many rows, a slow receiver, a full semaphore); another dispatcher then claims the rows
and sends them again. So the round renews the lease while it runs, and it starts a POST only while the lease is
known to last beyond that POST's deadline (``margin_s`` more, for the clocks of dispatchers and database). If
renewing fails (the database is away) the local estimate runs out and the round stops starting requests before the
lease can expire: a row is never in flight from two dispatchers, as long as clocks agree within the margin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["RoundLease"]


@dataclass
class RoundLease:
    owner: str  # written to the rows' lease_owner: renewals and results are conditional on it
    ids: frozenset[int]
    lease_s: float
    margin_s: float
    valid_until: float  # time.monotonic() by which the lease surely ends, unless renewed
    lost: set[int] = field(default_factory=set)  # rows a renewal found no longer ours
    recorded: set[int] = field(default_factory=set)  # rows whose outcome is written (nothing left to hold)
    renewed_at: float = field(default_factory=time.monotonic)

    @classmethod
    def claimed(cls, owner: str, ids: list[int], *, lease_s: float, margin_s: float, started: float) -> RoundLease:
        """``started``: monotonic time taken before the claim, so the estimate errs on the short side."""
        return cls(owner, frozenset(ids), lease_s, margin_s, valid_until=started + lease_s, renewed_at=started)

    def may_start(self, delivery_id: int, needs_s: float) -> bool:
        """True while the row is ours for at least ``needs_s`` (a request's deadline) plus the margin."""
        return delivery_id not in self.lost and time.monotonic() + needs_s + self.margin_s < self.valid_until

    def to_renew(self) -> list[int]:
        return sorted(self.ids - self.recorded - self.lost)

    def renewed(self, asked: list[int], kept: set[int], *, started: float) -> None:
        """After a renewal that began at ``started`` (monotonic) asked for ``asked`` and got ``kept``."""
        self.lost |= set(asked) - kept - self.recorded
        self.valid_until, self.renewed_at = started + self.lease_s, started

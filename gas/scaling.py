"""The worker scaling policy, shared by the local fleet (`gas fleet`) and the AWS template.

Desired workers = the backlog (tasks waiting) plus the tasks in progress, divided by the tasks one
worker should carry, within [min, max]. Scale out at once (after the scale-out cool-down); scale in
one worker at a time, only after the scale-in cool-down, so a short lull does not churn workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalingPolicy:
    minimum: int = 0
    maximum: int = 4
    tasks_per_worker: float = 2.0
    scale_out_cooldown: float = 10.0
    scale_in_cooldown: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError("need 0 <= min <= max")
        if self.tasks_per_worker <= 0:
            raise ValueError("tasks per worker must be positive")

    def desired(self, backlog: int, in_progress: int) -> int:
        wanted = math.ceil((backlog + in_progress) / self.tasks_per_worker)
        return max(self.minimum, min(self.maximum, wanted))


@dataclass
class Scaler:
    """Decides, tick by tick, how many workers to run; remembers its last moves for cool-downs."""

    policy: ScalingPolicy
    last_out: float = -math.inf
    last_in: float = -math.inf
    last_change: float = -math.inf

    def decide(self, current: int, backlog: int, in_progress: int, now: float) -> int:
        """The worker count to run from now on."""
        target = self.policy.desired(backlog, in_progress)
        if current < self.policy.minimum:
            return self._moved(self.policy.minimum, now, out=True)
        if current > self.policy.maximum:
            return self._moved(self.policy.maximum, now, out=False)
        if target > current and now - self.last_out >= self.policy.scale_out_cooldown:
            return self._moved(target, now, out=True)
        if target < current and now - self.last_change >= self.policy.scale_in_cooldown:
            return self._moved(current - 1, now, out=False)
        return current

    def _moved(self, count: int, now: float, out: bool) -> int:
        if out:
            self.last_out = now
        else:
            self.last_in = now
        self.last_change = now
        return count

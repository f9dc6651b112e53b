"""Sustained-breach detection for protection limits (pure).

A listener is "under breach" once its rejections grow by at least `threshold` per observation
for `sustain` observations in a row; it is "calm" again after `sustain` observations below the
threshold. Each change is reported once, so an attack raises one event, not one per second.
"""

from dataclasses import dataclass, field
from typing import Literal

Transition = Literal["breach", "calm"]


@dataclass
class _ListenerState:
    last_total: int
    above: int = 0
    below: int = 0
    breached: bool = False


@dataclass
class BreachTracker:
    threshold: int = 50  # rejections per observation interval
    sustain: int = 3  # observations in a row
    _listeners: dict[str, _ListenerState] = field(default_factory=dict)

    def observe(self, listener_id: str, total_rejected: int) -> Transition | None:
        state = self._listeners.get(listener_id)
        if state is None:
            self._listeners[listener_id] = _ListenerState(last_total=total_rejected)
            return None
        # Counters restart at zero when HAProxy restarts: count from zero then.
        gained = total_rejected - state.last_total
        if gained < 0:
            gained = total_rejected
        state.last_total = total_rejected
        if gained >= self.threshold:
            state.above, state.below = state.above + 1, 0
        else:
            state.above, state.below = 0, state.below + 1
        if not state.breached and state.above >= self.sustain:
            state.breached = True
            return "breach"
        if state.breached and state.below >= self.sustain:
            state.breached = False
            return "calm"
        return None

    def forget(self, keep: set[str]) -> None:
        """Drop listeners that no longer exist."""
        for listener_id in set(self._listeners) - keep:
            del self._listeners[listener_id]

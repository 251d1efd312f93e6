"""Simulated crew whereabouts: which module each crew member is in, over time.

Owned by the simulator's thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence


# [D] where each crew member tends to work (JAXA astronaut c1 in Kibo, c4 in
# the Russian segment); unknown crew ids spread evenly.
CREW_HABITS: Final = {
    "c1": {"JPM": 0.45, "ELM": 0.1, "NODE2": 0.15, "USLAB": 0.15, "COL": 0.05,
           "NODE1": 0.05, "NODE3": 0.05},
    "c2": {"JPM": 0.3, "USLAB": 0.25, "COL": 0.15, "NODE2": 0.1, "NODE1": 0.1,
           "NODE3": 0.1},
    "c3": {"USLAB": 0.3, "COL": 0.25, "NODE3": 0.15, "NODE2": 0.1, "JPM": 0.1,
           "NODE1": 0.1},
    "c4": {"SM": 0.5, "NODE1": 0.15, "USLAB": 0.15, "NODE3": 0.1, "JPM": 0.1},
}  # fmt: skip


DWELL_S: Final = (10 * 60.0, 90 * 60.0)


FIRST_DWELL_S: Final = (30.0, 8 * 60.0)


class CrewTimeline:
    """Piecewise-constant module timeline for one crew member, generated lazily.

    Owned by the thread that iterates its Simulator.
    """

    def __init__(
        self,
        crew: str,
        rng: np.random.Generator,
        modules: Sequence[str],
        start: float,
        shelter: tuple[float, float] | None,
        shelter_module: str | None,
    ) -> None:
        habits = CREW_HABITS.get(crew, {})
        weights = np.array([habits.get(m, 0.0) for m in modules])
        if weights.sum() <= 0:
            weights = np.ones(len(modules))
        self.modules = list(modules)
        self.p = weights / weights.sum()
        self.rng = rng
        self.changes = [start]
        self.where = [int(rng.choice(len(modules), p=self.p))]
        self.end = start + float(rng.uniform(*FIRST_DWELL_S))
        self.shelter = shelter
        self.shelter_index = (
            self.modules.index(shelter_module)
            if shelter_module in self.modules
            else None
        )

    def at(self, times: np.ndarray) -> np.ndarray:
        """Return module indices at ``times``."""
        while self.end <= times[-1]:
            p = self.p.copy()
            p[self.where[-1]] = 0.0  # a change means another module
            nxt = int(self.rng.choice(len(self.modules), p=p / p.sum()))
            self.changes.append(self.end)
            self.where.append(nxt)
            self.end += float(self.rng.uniform(*DWELL_S))
        i = np.searchsorted(np.array(self.changes), times, side="right") - 1
        out = np.array(self.where)[np.clip(i, 0, None)]
        if self.shelter is not None and self.shelter_index is not None:
            a, b = self.shelter
            out = np.where((times >= a) & (times <= b), self.shelter_index, out)
        # Drop history before this batch; keep the segment in force and the
        # one before it (another reader may look a few seconds earlier).
        first = max(int(i.min()) - 1, 0)
        del self.changes[:first]
        del self.where[:first]
        return out

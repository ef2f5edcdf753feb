"""Fair choice of the next job: strict priority between lanes, round-robin between members in a lane.

Within a lane every member has a FIFO of their waiting jobs, and members take turns in the order
they last got a turn. A member with twenty jobs waiting holds a newcomer's first job back by at most
one of theirs per free backend slot. The scheduler is pure bookkeeping in memory; the database
remains the truth and the engine rebuilds this from it on start.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

UserKey = tuple[int | None, int]  # (guild, user): quotas and fairness are per member of a guild


@dataclass(frozen=True, slots=True)
class Waiting:
    """What the scheduler needs of a job."""

    job_id: str
    user: UserKey
    lane: str
    template: str
    needs: tuple[tuple[str, str], ...] = ()
    """(param, value) pairs a backend must offer, e.g. ("checkpoint", "sdxl.safetensors")."""


class _Lane:
    def __init__(self) -> None:
        # Insertion order of the OrderedDict is the turn order.
        self.turns: OrderedDict[UserKey, deque[Waiting]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(q) for q in self.turns.values())


class FairScheduler:
    """Picks the next job for a backend slot; answers queue positions without scanning everything."""

    def __init__(self, lane_order: Iterable[str] = ("priority", "default")) -> None:
        self._lane_order = list(lane_order)
        self._lanes: dict[str, _Lane] = {}
        self._by_id: dict[str, Waiting] = {}

    # --- changes -------------------------------------------------------------------------------------

    def add(self, item: Waiting, *, front: bool = False) -> None:
        """Queue a job at the back of its member's line (``front`` for a job put back after a failure)."""
        if item.job_id in self._by_id:
            return
        if item.lane not in self._lane_order:
            self._lane_order.append(item.lane)
        lane = self._lanes.setdefault(item.lane, _Lane())
        line = lane.turns.get(item.user)
        if line is None:
            line = lane.turns[item.user] = deque()
            if front:
                lane.turns.move_to_end(item.user, last=False)
        if front:
            line.appendleft(item)
        else:
            line.append(item)
        self._by_id[item.job_id] = item

    def remove(self, job_id: str) -> bool:
        item = self._by_id.pop(job_id, None)
        if item is None:
            return False
        lane = self._lanes[item.lane]
        line = lane.turns[item.user]
        line.remove(item)
        if not line:
            del lane.turns[item.user]
        return True

    def pop_next(self, can_run: Callable[[Waiting], bool] = lambda _: True) -> Waiting | None:
        """Take the fairest job that ``can_run`` accepts (e.g. one this backend is capable of)."""
        for lane_name in self._lane_order:
            lane = self._lanes.get(lane_name)
            if not lane:
                continue
            for user, line in lane.turns.items():
                chosen = next((item for item in line if can_run(item)), None)
                if chosen is None:
                    continue
                line.remove(chosen)
                del self._by_id[chosen.job_id]
                if line:
                    lane.turns.move_to_end(user)
                else:
                    del lane.turns[user]
                return chosen
        return None

    # --- questions -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._by_id

    def get(self, job_id: str) -> Waiting | None:
        return self._by_id.get(job_id)

    def waiting(self) -> Iterator[Waiting]:
        return iter(self._by_id.values())

    def position(self, job_id: str) -> int | None:
        """0-based number of jobs that go before this one, if no new ones arrive; O(members)."""
        item = self._by_id.get(job_id)
        if item is None:
            return None
        ahead = 0
        for lane_name in self._lane_order:
            lane = self._lanes.get(lane_name)
            if lane is None:
                continue
            if lane_name != item.lane:
                ahead += len(lane)
                continue
            line = lane.turns[item.user]
            index = line.index(item)
            before_me = True
            for user, other in lane.turns.items():
                if user == item.user:
                    before_me = False
                    continue
                # Members whose turn comes before ours get index+1 turns before us, the rest index turns.
                ahead += min(len(other), index + 1 if before_me else index)
            return ahead + index
        return None  # pragma: no cover - every lane of a queued item is in the order

    def positions(self) -> dict[str, int]:
        """Positions of every waiting job in one pass (simulates the turns without changing them)."""
        result: dict[str, int] = {}
        counter = 0
        for lane_name in self._lane_order:
            lane = self._lanes.get(lane_name)
            if lane is None:
                continue
            lines = [list(line) for line in lane.turns.values()]
            depth = 0
            while lines:
                still: list[list[Waiting]] = []
                for line in lines:
                    result[line[depth].job_id] = counter
                    counter += 1
                    if len(line) > depth + 1:
                        still.append(line)
                lines = still
                depth += 1
        return result

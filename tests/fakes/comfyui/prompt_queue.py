"""The pending heap, the running set and the history (execution.PromptQueue semantics)."""

from __future__ import annotations

import asyncio
import copy
import heapq
import itertools
from collections.abc import Callable
from typing import Any

MAXIMUM_HISTORY_SIZE = 10000
SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


class QueueItem:
    """[number, prompt_id, prompt, extra_data, outputs_to_execute], ordered like the server's heap tuples."""

    _tiebreak = itertools.count()

    def __init__(
        self,
        number: float,
        prompt_id: str,
        prompt: dict[str, Any],
        extra_data: dict[str, Any],
        outputs: list[str],
    ) -> None:
        self.number = number
        self.prompt_id = prompt_id
        self.prompt = prompt
        self.extra_data = extra_data
        self.outputs = outputs
        self._seq = next(self._tiebreak)

    def __lt__(self, other: QueueItem) -> bool:
        return (self.number, self.prompt_id, self._seq) < (other.number, other.prompt_id, other._seq)

    def as_list(self) -> list[Any]:
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]


class PromptQueue:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self.pending: list[QueueItem] = []
        self.running: dict[int, QueueItem] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self._task_counter = 0
        self._wakeup = asyncio.Event()

    def remaining(self) -> int:
        return len(self.pending) + len(self.running)

    def put(self, item: QueueItem) -> None:
        heapq.heappush(self.pending, item)
        self._on_change()
        self._wakeup.set()

    async def get(self) -> tuple[QueueItem, int]:
        while not self.pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        item = heapq.heappop(self.pending)
        task_id = self._task_counter
        self._task_counter += 1
        self.running[task_id] = item
        self._on_change()
        return item, task_id

    def task_done(self, task_id: int, history: dict[str, Any]) -> None:
        item = self.running.pop(task_id)
        if len(self.history) > MAXIMUM_HISTORY_SIZE:
            self.history.pop(next(iter(self.history)))
        entry_prompt = copy.deepcopy(item.as_list())
        for key in SENSITIVE_EXTRA_DATA_KEYS:
            entry_prompt[3].pop(key, None)
        self.history[item.prompt_id] = {"prompt": entry_prompt, "outputs": {}, "status": None, **history}
        self._on_change()

    def drop_running(self, task_id: int) -> None:
        self.running.pop(task_id, None)

    def snapshot(self) -> dict[str, list[Any]]:
        """GET /queue: running items, then the raw heap array (heap order, not sorted)."""
        return {
            "queue_running": [copy.deepcopy(item.as_list()) for item in self.running.values()],
            "queue_pending": [copy.deepcopy(item.as_list()) for item in self.pending],
        }

    def wipe(self) -> None:
        self.pending = []
        self._on_change()

    def delete(self, prompt_id: Any) -> bool:
        for index, item in enumerate(self.pending):
            if item.prompt_id == prompt_id:
                if len(self.pending) == 1:
                    self.wipe()
                else:
                    self.pending.pop(index)
                    heapq.heapify(self.pending)
                self._on_change()
                return True
        return False

    def get_history(
        self, prompt_id: str | None = None, max_items: int | None = None, offset: int = -1
    ) -> dict[str, Any]:
        if prompt_id is not None:
            return {prompt_id: copy.deepcopy(self.history[prompt_id])} if prompt_id in self.history else {}
        out: dict[str, Any] = {}
        if offset < 0 and max_items is not None:
            offset = len(self.history) - max_items
        for index, key in enumerate(self.history):
            if index >= offset:
                out[key] = self.history[key]
                if max_items is not None and len(out) >= max_items:
                    break
        return copy.deepcopy(out)

    def delete_history(self, prompt_id: Any) -> None:
        self.history.pop(prompt_id, None)

    def wipe_history(self) -> None:
        self.history = {}

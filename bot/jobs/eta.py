"""Run-time estimates learned per template and backend, for queue ETAs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DurationModel:
    """Exponential moving average of run seconds per (template, backend), with sane fallbacks."""

    default_seconds: float = 30.0
    weight: float = 0.3
    _by_pair: dict[tuple[str, str], float] = field(default_factory=dict)
    _by_template: dict[str, float] = field(default_factory=dict)

    def observe(self, template: str, backend: str, seconds: float) -> None:
        pair = (template, backend)
        self._by_pair[pair] = self._blend(self._by_pair.get(pair), seconds)
        self._by_template[template] = self._blend(self._by_template.get(template), seconds)

    def _blend(self, old: float | None, seconds: float) -> float:
        return seconds if old is None else old + self.weight * (seconds - old)

    def expected(self, template: str, backend: str | None = None) -> float:
        if backend is not None and (template, backend) in self._by_pair:
            return self._by_pair[(template, backend)]
        return self._by_template.get(template, self.default_seconds)

    def eta(self, position: int, template: str, parallel_slots: int) -> float:
        """Seconds until a job at ``position`` (0 = next) finishes, with ``parallel_slots`` GPUs working."""
        per_job = self.expected(template)
        slots = max(1, parallel_slots)
        return (position // slots + 1) * per_job

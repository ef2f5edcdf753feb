"""Fairness and position bookkeeping of the scheduler."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jobs.eta import DurationModel
from bot.jobs.scheduler import FairScheduler, Waiting


def _job(n: int, user: int, lane: str = "default", template: str = "imagine") -> Waiting:
    return Waiting(f"j{n}", (1, user), lane, template)


def _drain(s: FairScheduler) -> list[str]:
    out = []
    while (item := s.pop_next()) is not None:
        out.append(item.job_id)
    return out


def test_newcomer_waits_at_most_one_job_of_a_heavy_user() -> None:
    s = FairScheduler()
    for n in range(20):
        s.add(_job(n, user=1))
    s.pop_next()  # one of user 1's jobs is already running
    s.add(_job(100, user=2))
    assert s.position("j100") == 1
    order = _drain(s)
    assert order.index("j100") == 1


def test_round_robin_between_members_keeps_each_members_order() -> None:
    s = FairScheduler()
    for n, user in enumerate([1, 1, 1, 2, 2, 3]):
        s.add(_job(n, user))
    assert _drain(s) == ["j0", "j3", "j5", "j1", "j4", "j2"]


def test_priority_lane_goes_first() -> None:
    s = FairScheduler()
    s.add(_job(1, 1))
    s.add(_job(2, 2, lane="priority"))
    assert s.position("j2") == 0
    assert s.position("j1") == 1
    assert _drain(s) == ["j2", "j1"]


def test_can_run_skips_jobs_a_backend_cannot_take() -> None:
    s = FairScheduler()
    s.add(_job(1, 1, template="flux"))
    s.add(_job(2, 1, template="imagine"))
    s.add(_job(3, 2, template="flux"))
    picked = s.pop_next(lambda w: w.template == "imagine")
    assert picked is not None
    assert picked.job_id == "j2"
    assert len(s) == 2


def test_put_back_in_front_keeps_its_place() -> None:
    s = FairScheduler()
    s.add(_job(1, 1))
    s.add(_job(2, 2))
    first = s.pop_next()
    assert first is not None
    s.add(first, front=True)  # its backend died: it goes first again
    assert _drain(s) == ["j1", "j2"]


def _waiting_of(s: FairScheduler, user: tuple[int, int]) -> int:
    return sum(1 for w in s.waiting() if w.user == user)


def test_remove_and_counts() -> None:
    s = FairScheduler()
    for n in range(3):
        s.add(_job(n, 1))
    s.add(_job(9, 2))
    assert _waiting_of(s, (1, 1)) == 3
    assert s.remove("j1")
    assert not s.remove("j1")
    assert _waiting_of(s, (1, 1)) == 2
    assert "j1" not in s
    assert _drain(s) == ["j0", "j9", "j2"]


ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "add", "pop", "remove"]),
        st.integers(0, 4),
        st.sampled_from(["default", "priority"]),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_positions_predict_the_pop_order(operations: list[tuple[str, int, str]]) -> None:
    s = FairScheduler()
    counter = 0
    for op, user, lane in operations:
        if op == "add":
            s.add(_job(counter, user, lane))
            counter += 1
        elif op == "pop":
            s.pop_next()
        elif op == "remove" and len(s):
            s.remove(next(iter(s.waiting())).job_id)
    predicted = s.positions()
    assert predicted == {w.job_id: s.position(w.job_id) for w in s.waiting()}
    order = _drain(s)
    assert [job for job, _ in sorted(predicted.items(), key=lambda kv: kv[1])] == order


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40))
def test_a_members_first_job_waits_at_most_one_turn_per_other_member(heavy: list[int]) -> None:
    s = FairScheduler()
    for n, user in enumerate(heavy):
        s.add(_job(n, user))
    if _waiting_of(s, (1, 99)) == 0:
        s.add(Waiting("new", (1, 99), "default", "imagine"))
    others = len(set(heavy))
    assert (s.position("new") or 0) <= others


def test_eta_learns_per_template_and_backend() -> None:
    model = DurationModel(default_seconds=10)
    assert model.expected("imagine") == 10
    model.observe("imagine", "gpu1", 4)
    model.observe("imagine", "gpu1", 8)
    assert 4 < model.expected("imagine", "gpu1") < 8
    assert model.eta(0, "imagine", 2) == model.expected("imagine")
    assert model.eta(3, "imagine", 2) == 2 * model.expected("imagine")

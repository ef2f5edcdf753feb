"""Getting finished jobs to the member exactly once: results, or the notice of how a job ended.

A delivery is retried until it lands (with a growing pause, since a lost permission or a long Discord
outage should not be hammered); the results wait in the spool meanwhile. What was delivered is
recorded in the same transaction that moves the job on, and a job whose delivery was already
recorded is never handed to the sink again, so a crash between the post and the record costs at most
one repeated edit of the same message (the sink posts new messages with a nonce: see ResultSink).

The sink may hold results back (output screening): the job then goes to HELD, or WITHHELD, instead of
DELIVERED, in that same transaction. A moderator's Release moves a HELD job to RELEASED and asks for
its delivery, which is this same path: retried until it lands, and resumed after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.jobmodel.states import TO_DELIVER_STATES, JobState
from bot.jobs.delivery import Receipt, ResultSink
from bot.jobs.updates import JobUpdate, UpdateHub
from bot.storage import Database, DeliveryKind, DeliveryRepository, JobRepository, OutputRepository
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)

MAX_PAUSE = 600.0

_RECORDED_AS: dict[JobState, DeliveryKind] = {
    JobState.DELIVERED: DeliveryKind.RESULT,
    JobState.HELD: DeliveryKind.HOLD,
    JobState.WITHHELD: DeliveryKind.STATUS,  # the member was told why, like any ending without results
}
"""What a sink's receipt is recorded as, by the state the job moves to."""


def retry_pause(failures: int) -> float:
    """Seconds to wait after the n-th failed delivery in a row: 5, 10, 20 ... up to 10 minutes."""
    return float(min(MAX_PAUSE, 5.0 * 2.0 ** (failures - 1)))


class Deliverer:
    """Runs deliveries, several at once (Discord's limits are per channel), each job by one task only."""

    def __init__(
        self,
        db: Database,
        jobs: JobRepository,
        outputs: OutputRepository,
        deliveries: DeliveryRepository,
        updates: UpdateHub,
        supervisor: Supervisor,
        *,
        parallel: int = 8,
        pause: Callable[[int], float] = retry_pause,
    ) -> None:
        self._db = db
        self._jobs = jobs
        self._outputs = outputs
        self._deliveries = deliveries
        self._updates = updates
        self._supervisor = supervisor
        self._slots = asyncio.Semaphore(parallel)
        self.pause = pause
        """Seconds to wait after the n-th failed delivery of a job in a row."""
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._delivering: set[str] = set()
        self._again: set[str] = set()
        self.failures: dict[str, int] = {}
        self.sink: ResultSink | None = None

    def request(self, job_id: str) -> None:
        """Deliver this job's results or end notice (a job already being delivered is looked at again)."""
        self._queue.put_nowait(job_id)

    async def loop(self) -> None:
        """The supervised loop that starts deliveries."""
        while True:
            job_id = await self._queue.get()
            if job_id in self._delivering:
                self._again.add(job_id)  # read the latest state once the delivery under way ends
                continue
            await self._slots.acquire()
            self._delivering.add(job_id)
            self._supervisor.spawn(self._deliver_one(job_id), name=f"deliver-{job_id}")

    async def _deliver_one(self, job_id: str) -> None:
        again = False
        try:
            await self.deliver(job_id)
            self.failures.pop(job_id, None)
            again = job_id in self._again
        except asyncio.CancelledError:
            raise
        except Exception:
            failures = self.failures.get(job_id, 0) + 1
            self.failures[job_id] = failures
            delay = self.pause(failures)
            log.exception("job=%s delivery failed (%d time(s)); next try in %.0fs", job_id, failures, delay)
            self._supervisor.spawn(self._later(job_id, delay), name=f"redeliver-{job_id}")
        finally:
            self._again.discard(job_id)
            self._delivering.discard(job_id)
            self._slots.release()
        if again:
            self.request(job_id)

    async def _later(self, job_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.request(job_id)

    async def deliver(self, job_id: str) -> None:
        """One attempt at delivering ``job_id``; raises when the sink fails (the caller retries)."""
        if self.sink is None:
            return
        job = await self._jobs.require(job_id)
        if job.state in TO_DELIVER_STATES:
            if await self._deliveries.get(job.id, DeliveryKind.RESULT) is None:
                receipt = await self.sink.deliver(job, await self._outputs.list_for_job(job.id))
                outcome = receipt.outcome
            else:
                receipt, outcome = None, JobState.DELIVERED  # posted before a crash; only the move is missing
            if outcome not in _RECORDED_AS:
                raise ValueError(f"job={job.id}: a delivery cannot end in {outcome.value}")
            async with self._db.transaction():
                if receipt is not None:
                    await self._record(job.id, _RECORDED_AS[outcome], receipt)
                moved = await self._jobs.transition(job.id, job.state, outcome)
            log.info("job=%s %s", job.id, outcome.value)
            self._updates.publish(JobUpdate(job=moved))
        elif job.ends_with_notice and not await self._deliveries.was_delivered(job.id, DeliveryKind.STATUS):
            receipt = await self.sink.notify_end(job)
            await self._record(job.id, DeliveryKind.STATUS, receipt)

    async def _record(self, job_id: str, kind: DeliveryKind, receipt: Receipt) -> None:
        await self._deliveries.record_delivery(
            job_id, kind, channel_id=receipt.channel_id, message_ids=list(receipt.message_ids)
        )

"""The job engine: scheduler, runner, delivery and recovery, over the job model in ``bot.jobmodel``.

The model is re-exported here for callers that think of jobs as one package."""

from bot.jobmodel.ids import new_job_id, normalize_job_id
from bot.jobmodel.model import (
    DEFAULT_LANE,
    InputRef,
    Job,
    JobChanges,
    JSONObject,
    MessageRef,
    OutputRef,
    advance,
    new_job,
    revise,
)
from bot.jobmodel.states import (
    FINISHED_STATES,
    IN_FLIGHT_STATES,
    NOTICE_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    TO_DELIVER_STATES,
    TRANSITIONS,
    WAITING_STATES,
    IllegalTransition,
    JobState,
    check_transition,
    is_legal,
)

__all__ = [
    "DEFAULT_LANE",
    "FINISHED_STATES",
    "IN_FLIGHT_STATES",
    "NOTICE_STATES",
    "OPEN_STATES",
    "TERMINAL_STATES",
    "TO_DELIVER_STATES",
    "TRANSITIONS",
    "WAITING_STATES",
    "IllegalTransition",
    "InputRef",
    "JSONObject",
    "Job",
    "JobChanges",
    "JobState",
    "MessageRef",
    "OutputRef",
    "advance",
    "check_transition",
    "is_legal",
    "new_job",
    "new_job_id",
    "normalize_job_id",
    "revise",
]

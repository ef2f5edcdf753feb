"""The job model: the immutable job record, its states and the one table of legal moves, job ids.

It sits below both ``bot.storage`` (which persists jobs) and ``bot.jobs`` (which runs them), and
imports nothing of either, so imports run one way: jobmodel <- storage <- jobs.
"""

from bot.jobmodel.ids import new_job_id, normalize_job_id
from bot.jobmodel.model import Job, JobChanges, MessageRef, new_job
from bot.jobmodel.states import JobState

__all__ = ["Job", "JobChanges", "JobState", "MessageRef", "new_job", "new_job_id", "normalize_job_id"]

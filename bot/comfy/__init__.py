"""The asyncio ComfyUI client: HTTP calls, one persistent websocket per backend, pure parsing."""

from bot.comfy.client import ComfyClient
from bot.comfy.connection import BackendConnection, Disconnected, PromptWatch, Reconciled
from bot.comfy.endpoint import BackendAuth, Endpoint
from bot.comfy.events import (
    CachedNodes,
    Completed,
    ConnectionLost,
    Finished,
    NodeExecuting,
    NodeText,
    OverallProgress,
    PreviewImage,
    Queued,
    RunEvent,
    RunOutput,
    Started,
    StepProgress,
)
from bot.comfy.http import (
    ComfyHttp,
    HistoryEntry,
    OutputFile,
    OutputText,
    QueuedPrompt,
    QueueItem,
    QueueSnapshot,
    UploadedFile,
)
from bot.comfy.retry import Backoff, RetryPolicy
from bot.comfy.run import PromptRun

__all__ = [
    "BackendAuth",
    "BackendConnection",
    "Backoff",
    "CachedNodes",
    "ComfyClient",
    "ComfyHttp",
    "Completed",
    "ConnectionLost",
    "Disconnected",
    "Endpoint",
    "Finished",
    "HistoryEntry",
    "NodeExecuting",
    "NodeText",
    "OutputFile",
    "OutputText",
    "OverallProgress",
    "PreviewImage",
    "PromptRun",
    "PromptWatch",
    "QueueItem",
    "QueueSnapshot",
    "Queued",
    "QueuedPrompt",
    "Reconciled",
    "RetryPolicy",
    "RunEvent",
    "RunOutput",
    "Started",
    "StepProgress",
    "UploadedFile",
]

"""A fake Discord (REST v10 + gateway + CDN on 127.0.0.1) for end-to-end tests of real discord.py.

Modules: ``state`` (world model), ``limits`` (documented limits/validation), ``ratelimit`` and ``faults``
(429s and injected errors), ``interactions`` (INTERACTION_CREATE payloads and ack tracking), ``gateway``,
``rest`` (pipeline) with ``api_*`` route modules, ``openapi``/``fastcheck``/``conformance``/``spec_gaps``
(every request and answer checked against Discord's OpenAPI spec), ``cdn``, ``server`` (:class:`FakeDiscord`),
``client`` (start/stop a discord.py client) and ``fixtures`` (pytest fixtures).
"""

from .conformance import Violation
from .errors import ApiError
from .gateway import Intents
from .interactions import InteractionRecord
from .permissions import Permission
from .recording import RecordedFile, RecordedRequest, Stats, Unexpected
from .server import FakeDiscord
from .state import Attachment, Channel, Guild, Member, Message, Role, User

__all__ = [
    "ApiError",
    "Attachment",
    "Channel",
    "FakeDiscord",
    "Guild",
    "Intents",
    "InteractionRecord",
    "Member",
    "Message",
    "Permission",
    "RecordedFile",
    "RecordedRequest",
    "Role",
    "Stats",
    "Unexpected",
    "User",
    "Violation",
]

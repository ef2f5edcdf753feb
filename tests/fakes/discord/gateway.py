"""The gateway: a websocket speaking Discord's v10 protocol to discord.py (plain JSON TEXT frames).

Handshake (events/gateway): HELLO → client heartbeats (answered with HEARTBEAT_ACK) → IDENTIFY →
READY (echoing ``shard``) → one GUILD_CREATE per guild of that shard. Sessions survive their
connection: after op 7 RECONNECT (or a dropped socket) the client RESUMEs on ``resume_gateway_url``,
gets the dispatches it missed replayed, then RESUMED. A close with 1000/1001 ends the session (as on
Discord), so a later RESUME is answered with op 9 INVALID_SESSION.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .recording import Stats, Unexpected
from .state import Guild, Member, State, User

DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11


class Intents:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


_BUFFER_LIMIT = 5000


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse = field(repr=False)
    path: str
    query: dict[str, str]
    opened_at: float = field(default_factory=time.monotonic)
    received: list[dict[str, Any]] = field(default_factory=list, repr=False)  #: payloads from the client
    heartbeats: int = 0
    close_code: int | None = None
    session: Session | None = field(default=None, repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def send(self, payload: dict[str, Any]) -> bool:
        async with self.lock:
            if self.ws.closed:
                return False
            try:
                await self.ws.send_str(json.dumps(payload))
            except (ConnectionError, RuntimeError):
                return False
            return True


@dataclass(eq=False)
class Session:
    id: str
    identify: dict[str, Any] = field(repr=False)
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list, repr=False)  #: every dispatch sent, in order
    connection: Connection | None = field(default=None, repr=False)
    ended: bool = False
    disconnected_at: float | None = None
    resume_count: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def handles_guild(self, guild_id: str | None) -> bool:
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        if guild_id is None:  # DMs go to shard 0
            return shard_id == 0
        return (int(guild_id) >> 22) % shard_count == shard_id

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.buffer if name is None or f["t"] == name]


class Gateway:
    def __init__(
        self,
        state: State,
        *,
        bot_user: User,
        application_id: str,
        stats: Stats,
        unexpected: list[Unexpected],
        resume_url: Callable[[], str],
        heartbeat_interval: float = 41.25,
        privileged_intents: int = 0,
        token_ok: Callable[[str | None], bool] = lambda _token: True,
    ) -> None:
        self.state = state
        self.bot_user = bot_user
        self.application_id = application_id
        self.stats = stats
        self.unexpected = unexpected
        self._resume_url = resume_url
        self.heartbeat_interval = heartbeat_interval
        self.privileged_intents = privileged_intents
        self._token_ok = token_ok
        self.connections: list[Connection] = []
        self.sessions: list[Session] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.presence_updates: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()

    # ------------------------------------------------------------------ inspection
    def live_sessions(self) -> list[Session]:
        """Sessions not ended (connected, or disconnected and still resumable)."""
        return [s for s in self.sessions if not s.ended]

    def connected_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.ended and s.connection is not None]

    def has_bot(self, grace: float = 2.0) -> bool:
        """A session is connected, or dropped less than ``grace`` seconds ago (reconnect in progress).

        (discord.py's ``Client.close()`` puts 4000 on the wire, so Discord - and the fake - keep the
        session resumable; it is not "ended".)"""
        now = time.monotonic()
        return any(
            s.connection is not None or (s.disconnected_at is not None and now - s.disconnected_at < grace)
            for s in self.live_sessions()
        )

    # ------------------------------------------------------------------ websocket handler
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=1.0, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, request.path, dict(request.query))
        self.connections.append(conn)
        self.stats.gateway_connections += 1
        await conn.send({"op": HELLO, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_payload(conn, json.loads(msg.data))
                else:
                    self.unexpected.append(Unexpected("gateway", f"unexpected websocket frame {msg.type!r}"))
        finally:
            conn.close_code = ws.close_code
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                session.disconnected_at = time.monotonic()
                if conn.close_code in (1000, 1001):
                    session.ended = True
            async with self._changed:
                self._changed.notify_all()
        return ws

    async def _on_payload(self, conn: Connection, payload: dict[str, Any]) -> None:
        conn.received.append(payload)
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            conn.heartbeats += 1
            await conn.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif op == PRESENCE_UPDATE:
            self.presence_updates.append(data or {})
        elif op == REQUEST_GUILD_MEMBERS:
            await self._request_members(conn, data or {})
        elif op != VOICE_STATE_UPDATE:
            self.unexpected.append(Unexpected("gateway", f"unexpected gateway op {op}: {payload!r}"))

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if not self._token_ok(data.get("token")):
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & Intents.PRIVILEGED & ~self.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard")
        if shard is not None and not 0 <= shard[0] < shard[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        session = Session(secrets.token_hex(16), data, intents, tuple(shard) if shard else None)
        session.connection, conn.session = conn, session
        self.sessions.append(session)
        self.identifies.append(data)
        self.stats.identifies += 1
        guilds = [
            g
            for g in self.state.guilds.values()
            if self.bot_user.id in g.members and session.handles_guild(g.id)
        ]
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._resume_url(),
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "application": {"id": self.application_id, "flags": 0},
        }
        if shard is not None:  # AutoShardedClient's parse_ready reads data['shard'][0]
            ready["shard"] = list(shard)
        await self._send_dispatch(session, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", self.guild_create_payload(guild, session))
        async with self._changed:
            self._changed.notify_all()

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = next((s for s in self.sessions if s.id == data.get("session_id")), None)
        if session is None or session.ended or data.get("token") != session.identify.get("token"):
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        session.connection, conn.session = conn, session
        if old is not None and old is not conn:
            old.session = None
            await old.ws.close(code=4000)
        seq = int(data.get("seq") or 0)
        async with session.lock:
            for frame in session.buffer:
                if frame["s"] > seq:
                    await conn.send(frame)
        await self._send_dispatch(session, "RESUMED", {})
        self.resumes.append(data)
        self.stats.resumes += 1
        session.resume_count += 1
        async with self._changed:
            self._changed.notify_all()

    async def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        session = conn.session
        guild = self.state.guilds.get(str(data.get("guild_id")))
        if session is None or guild is None:
            self.unexpected.append(
                Unexpected("gateway", f"REQUEST_GUILD_MEMBERS for unknown guild: {data!r}")
            )
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {str(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.username.lower().startswith(str(data["query"]).lower())]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": guild.id,
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ sending
    def guild_create_payload(self, guild: Guild, session: Session | None = None) -> dict[str, Any]:
        """Without GUILD_PRESENCES Discord only includes the bot's own member (and voice members)."""
        members: list[Member] = list(guild.members.values())
        if session is not None and not session.intents & Intents.GUILD_PRESENCES:
            members = [m for m in members if m.user.id == self.bot_user.id]
        return guild.create_payload(members=members)

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        async with session.lock:
            session.seq += 1
            frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
            session.buffer.append(frame)
            del session.buffer[:-_BUFFER_LIMIT]
            self.stats.dispatched += 1
            if session.connection is not None:
                await session.connection.send(frame)

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        guild_id: str | None = None,
        intent: int | None = None,
        strip_content: bool = False,
    ) -> int:
        """Sends a dispatch to every live session that owns ``guild_id`` (and has ``intent``).

        Disconnected-but-resumable sessions buffer it and get it replayed on RESUME.
        Returns the number of sessions it was delivered or buffered for.
        """
        delivered = 0
        for session in self.live_sessions():
            if not session.handles_guild(guild_id) or (intent is not None and not session.intents & intent):
                continue
            payload = data
            if strip_content and not session.intents & Intents.MESSAGE_CONTENT:
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            await self._send_dispatch(session, event, payload)
            delivered += 1
        return delivered

    async def reconnect(self, *, wait: bool = True, timeout: float = 5.0) -> None:
        """Sends op 7 RECONNECT to every connected session; with ``wait`` returns once all RESUMEd."""
        targets = {s: s.resume_count for s in self.connected_sessions()}
        for session in targets:
            if session.connection is not None:
                await session.connection.send({"op": RECONNECT, "d": None})
        if wait:
            await self.wait_for(lambda: all(s.resume_count > n for s, n in targets.items()), timeout)

    async def invalidate_session(
        self, *, resumable: bool = False, wait: bool = True, timeout: float = 5.0
    ) -> None:
        """Sends op 9 INVALID_SESSION; non-resumable sessions end and the client must IDENTIFY again."""
        targets = self.connected_sessions()
        identified = len(self.identifies)
        for session in targets:
            if not resumable:
                session.ended = True
            if session.connection is not None:
                await session.connection.send({"op": INVALID_SESSION, "d": resumable})
        if wait and not resumable:
            await self.wait_for(lambda: len(self.identifies) >= identified + len(targets), timeout)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def close_all(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"fake discord shutting down")

"""FakeDiscord: REST v10, gateway and CDN on one loopback port, plus the test-side "user actions"."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from .api_application import ApplicationRoutes
from .api_channels import ChannelRoutes
from .api_interactions import InteractionRoutes
from .cdn import Cdn
from .command_creates import CommandCreates
from .conformance import Conformance, Violation
from .events import MessageEvents
from .faults import FaultInjector, Injection
from .gateway import Gateway
from .holds import Hold, Holds
from .interactions import AttachmentSpec, InteractionFactory, InteractionRecord
from .limits import MAX_REQUEST_SIZE
from .messages import MessageWriter
from .permissions import DEFAULT_EVERYONE, Permission
from .ratelimit import RateLimiter, default_rules
from .recording import RecordedRequest, Stats, Unexpected
from .rest import API_PREFIX, RestApi, Router
from .state import (
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    Snowflakes,
    State,
    User,
    id_of,
)

#: interaction context types (interactions/receiving-and-responding)
GUILD_CONTEXT, BOT_DM_CONTEXT = 0, 1


def offered_in(command: dict[str, Any], channel: Channel) -> bool:
    """Whether Discord's client offers ``command`` in ``channel``: guild commands only in their guild,
    global ones where their ``contexts`` say (unset: guilds, and bot DMs unless ``dm_permission`` is
    false)."""
    if command.get("guild_id") is not None:
        return command["guild_id"] == channel.guild_id
    contexts = command.get("contexts")
    if contexts is None:
        contexts = [GUILD_CONTEXT] + ([BOT_DM_CONTEXT] if command.get("dm_permission", True) else [])
    return (BOT_DM_CONTEXT if channel.is_dm else GUILD_CONTEXT) in contexts


MODERATOR_PERMISSIONS = int(
    Permission.MANAGE_MESSAGES | Permission.KICK_MEMBERS | Permission.MODERATE_MEMBERS
)


class FakeDiscord:
    """A fake Discord for end-to-end tests of an unmodified discord.py client.

    Timing knobs (seconds) default to Discord's values; tests shrink them (e.g. ``ack_deadline=0.3``).
    Rate limits are ``(requests, per_seconds)`` tuples or None to disable a bucket.
    """

    def __init__(
        self,
        *,
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60,
        send_rate: tuple[int, float] | None = (5, 5.0),
        edit_rate: tuple[int, float] | None = (5, 5.0),
        message_edit_rate: tuple[int, float] | None = None,
        webhook_rate: tuple[int, float] | None = (5, 2.0),
        attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        max_request_size: int = MAX_REQUEST_SIZE,
        attachment_url_lifetime: float | None = None,
        heartbeat_interval: float = 41.25,
        privileged_intents: int = 0,
        token: str | None = None,
        strict_commands: bool = True,
        message_events: bool = True,
        followup_edits_loading: bool = True,
        command_create_limit: tuple[int, float] = (200, 24 * 3600.0),
        populate: bool = True,
    ) -> None:
        self.ack_deadline = ack_deadline
        self.token_lifetime = token_lifetime
        self.max_request_size = max_request_size
        self.attachment_url_lifetime = attachment_url_lifetime
        self.token = token
        self.strict_commands = strict_commands
        self.followup_edits_loading = followup_edits_loading
        #: the fixture fails the test when ``unexpected`` is non-empty; set False to opt out
        self.fail_on_unexpected = True
        #: requests and answers checked against Discord's OpenAPI spec and documented rules; the fixture
        #: fails the test on any violation left in ``violations`` (``take_violations()`` claims them)
        self.conformance = Conformance()

        self.snowflakes = Snowflakes()
        self.state = State(self.snowflakes, attachment_size_limit=attachment_size_limit)
        self.requests: list[RecordedRequest] = []
        self.unexpected: list[Unexpected] = []
        self.stats = Stats()
        #: synced application commands: ``None`` for global, guild id for guild commands
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        #: Discord's daily limit on new commands per scope (429/30034 beyond it, and a violation)
        self.command_creates = CommandCreates(*command_create_limit)

        self.bot_user = self.state.create_user("comfy-bot", bot=True)
        self.application_id = self.bot_user.id  # modern apps: bot user id == application id
        self.owner = self.state.create_user("owner", global_name="Server Owner")

        self.writer = MessageWriter(self.state, lambda: self.base_url)
        self.interaction_factory = InteractionFactory(
            self.state,
            self.snowflakes,
            application_id=self.application_id,
            bot_user=self.bot_user,
            cdn_base=lambda: self.base_url,
        )
        self.gateway = Gateway(
            self.state,
            bot_user=self.bot_user,
            application_id=self.application_id,
            stats=self.stats,
            unexpected=self.unexpected,
            resume_url=lambda: self.resume_gateway_url,
            heartbeat_interval=heartbeat_interval,
            privileged_intents=privileged_intents,
            token_ok=self._token_ok,
        )
        self.message_events = MessageEvents(self.gateway, self.writer, self.bot_user, enabled=message_events)
        self.faults = FaultInjector()
        self.holds = Holds()
        self.rate_limiter = RateLimiter(
            default_rules(
                send_rate=send_rate,
                edit_rate=edit_rate,
                message_edit_rate=message_edit_rate,
                webhook_rate=webhook_rate,
            )
        )
        router = Router()
        for routes in (ApplicationRoutes(self), ChannelRoutes(self), InteractionRoutes(self)):
            routes.register(router)
        self.rest = RestApi(
            router=router,
            log=self.requests,
            stats=self.stats,
            unexpected=self.unexpected,
            faults=self.faults,
            holds=self.holds,
            limiter=self.rate_limiter,
            max_request_size=lambda: self.max_request_size,
            token_ok=self._token_ok,
            conformance=self.conformance,
        )
        self.cdn = Cdn(self.state, self.requests, self.stats, lambda: self.attachment_url_lifetime)

        self.port = 0
        self._runner: web.AppRunner | None = None
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        if populate:
            self._populate()

    # ------------------------------------------------------------------ default world
    def _populate(self) -> None:
        #: alice: a regular member; bob: a moderator
        self.user = self.create_user("alice", global_name="Alice")
        self.moderator = self.create_user("bob", global_name="Bob")
        self.guild = self.create_guild("Test Guild")
        self.moderator_role = self.create_role(self.guild, "Moderator", permissions=MODERATOR_PERMISSIONS)
        self.add_member(self.guild, self.user)
        self.add_member(self.guild, self.moderator, roles=[self.moderator_role])
        self.channel = self.create_channel(self.guild, "general")
        self.mod_channel = self.create_channel(self.guild, "mod-queue")
        self.nsfw_channel = self.create_channel(self.guild, "nsfw-art", nsfw=True)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=self.max_request_size * 2 + 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn.handle)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self.rest.handle)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Runs ``on_stop`` callbacks (e.g. closing clients from ``start_client``), then shuts down."""
        self.holds.release_all()
        callbacks, self._on_stop = self._on_stop, []
        errors: list[BaseException] = []
        for callback in reversed(callbacks):
            try:
                await callback()
            except Exception as exc:  # keep shutting down; report afterwards
                errors.append(exc)
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if errors:
            raise errors[0]

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(callback)

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _unknown(self, request: web.Request) -> web.Response:
        record = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), kind="other"
        )
        record.status = 404
        self.requests.append(record)
        self.unexpected.append(
            Unexpected("unknown-route", f"{request.method} {request.path} (outside the API)", record)
        )
        return web.Response(status=404, text="404: Not Found")

    def _token_ok(self, token: str | None) -> bool:
        return bool(token) and (self.token is None or token == self.token)

    # ------------------------------------------------------------------ addresses
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` must be set to."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume-gateway"

    # ------------------------------------------------------------------ world building
    def create_user(
        self, username: str, *, global_name: str | None = None, bot: bool = False, dms_open: bool = True
    ) -> User:
        return self.state.create_user(username, global_name=global_name, bot=bot, dms_open=dms_open)

    def create_guild(
        self,
        name: str,
        *,
        owner: User | None = None,
        members: Iterable[User] = (),
        attachment_size_limit: int | None = None,
        premium_tier: int = 0,
        features: Iterable[str] = (),
        everyone_permissions: int = DEFAULT_EVERYONE,
        with_bot: bool = True,
    ) -> Guild:
        """A guild (with @everyone) the bot is in unless ``with_bot=False``. Create it before the client
        connects, or announce it afterwards with ``await fake.dispatch_guild_create(guild)``."""
        guild = self.state.create_guild(
            name,
            owner=owner or self.owner,
            attachment_size_limit=attachment_size_limit,
            premium_tier=premium_tier,
            features=features,
            everyone_permissions=everyone_permissions,
        )
        if with_bot:
            self.add_member(guild, self.bot_user)
        for user in members:
            self.add_member(guild, user)
        return guild

    def create_channel(
        self, guild: Guild | str, name: str, *, nsfw: bool = False, topic: str | None = None, type: int = 0
    ) -> Channel:
        return self.state.create_channel(guild, name, nsfw=nsfw, topic=topic, type=type)

    def create_role(self, guild: Guild | str, name: str, *, permissions: int = 0) -> Role:
        return self.state.create_role(guild, name, permissions=permissions)

    def add_member(
        self,
        guild: Guild | str,
        user: User | str,
        *,
        roles: Iterable[Role | str] = (),
        nick: str | None = None,
    ) -> Member:
        return self.state.add_member(guild, user, roles=roles, nick=nick)

    def set_permissions(
        self, channel: Channel | str, target: Role | User | Member, *, allow: int = 0, deny: int = 0
    ) -> None:
        """A channel permission overwrite (e.g. deny ATTACH_FILES to the bot in one channel)."""
        self.state.set_overwrite(channel, target, allow=allow, deny=deny)

    def dm_channel(self, user: User | str) -> Channel:
        return self.state.dm_channel(user)

    def permissions_for(self, user: User | str, channel: Channel | str) -> int:
        return self.state.permissions_for(user, self.state.channel(channel))

    # ------------------------------------------------------------------ inspection
    @property
    def messages(self) -> dict[str, Message]:
        """Every message ever created (check ``.deleted``), by id."""
        return self.state.messages

    @property
    def interactions(self) -> list[InteractionRecord]:
        return self.interaction_factory.records

    def message(self, message: Any) -> Message:
        """A message by id/object, including deleted ones."""
        return self.state.messages[id_of(message)]

    def channel_messages(self, channel: Any = None, *, include_deleted: bool = False) -> list[Message]:
        return self.state.channel_messages(id_of(channel or self.channel), include_deleted=include_deleted)

    def last_message(self, channel: Any = None) -> Message:
        messages = self.channel_messages(channel)
        if not messages:
            raise LookupError(f"no messages in channel {id_of(channel or self.channel)}")
        return messages[-1]

    def calls(
        self, method: str | None = None, path: str | None = None, *, route: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests by method, fnmatch ``path`` glob (``*`` spans ``/``) and route template."""
        return [r for r in self.requests if r.matches(method, path, route)]

    @property
    def global_commands(self) -> list[dict[str, Any]]:
        return self.commands.get(None, [])

    def guild_commands(self, guild: Any = None) -> list[dict[str, Any]]:
        return self.commands.get(id_of(guild or self.guild), [])

    def find_command(self, name: str, *, guild: Any = None, type: int = 1) -> dict[str, Any] | None:
        """The synced command a user in ``guild`` would invoke (guild commands first, then global)."""
        scopes = ([id_of(guild)] if guild is not None else []) + [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == type:
                    return command
        return None

    def attachment(self, target: Any) -> Attachment:
        """An attachment by id, state/discord.py object, or CDN URL."""
        if isinstance(target, Attachment):
            return target
        if isinstance(target, str) and "://" in target:
            target = urllib.parse.urlsplit(target).path.split("/")[-2]
        return self.state.attachments[id_of(target)]

    def expire_attachment(self, target: Any, *, status: int = 404) -> Attachment:
        """Makes the CDN URL of an attachment stop working (404 like an expired signed URL, or 403)."""
        att = self.attachment(target)
        att.expired_status = status
        return att

    @property
    def violations(self) -> list[Violation]:
        """Broken spec or documented rules, in requests of the bot and answers of the fake, in order."""
        return self.conformance.violations

    def take_violations(self) -> list[Violation]:
        """Returns the violations so far and forgets them (for tests that break rules on purpose)."""
        return self.conformance.claim()

    def check_unexpected(self) -> None:
        """Fails (AssertionError) on unexpected requests/events and on spec or rule violations."""
        problems = []
        if self.unexpected and self.fail_on_unexpected:
            details = "\n".join(f"  - {u}" for u in self.unexpected)
            problems.append(
                f"fake Discord saw {len(self.unexpected)} unexpected request(s)/event(s):\n{details}"
            )
        if self.violations:
            details = "\n".join(f"  - {v}" for v in self.violations)
            problems.append(
                f"{len(self.violations)} violation(s) of Discord's OpenAPI spec or documented rules "
                f"(a known spec gap belongs in tests/fakes/discord/spec_gaps.py, with its reason):\n{details}"
            )
        if problems:
            raise AssertionError("\n".join(problems))

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005
    ) -> Any:
        """Polls ``predicate`` until truthy (bot-side effects land after our answers were sent)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ faults
    def inject_errors(
        self,
        pattern: str,
        status: int,
        count: int = 1,
        *,
        code: int = 0,
        message: str | None = None,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> Injection:
        """Answers the next ``count`` requests matching ``pattern`` ("PATCH /channels/*/messages/*") with
        ``status``: a 5xx error, or a well-formed 429 ("429 storm") discord.py sleeps on and retries."""
        return self.faults.add(
            Injection(pattern, status, count, code, message, retry_after=retry_after, is_global=is_global)
        )

    def clear_injections(self) -> None:
        self.faults.clear()

    def hold(self, pattern: str, *, when: Callable[[RecordedRequest], bool] | None = None) -> Hold:
        """Holds the next request matching ``pattern`` ("PATCH /channels/*/messages/*") and ``when``
        before anything happens to it, until ``release()``: see holds.py."""
        return self.holds.arm(pattern, when)

    # ------------------------------------------------------------------ gateway
    async def dispatch(self, event: str, data: dict[str, Any], *, guild: Any = None) -> int:
        """Sends any dispatch event to the connected bot(s); returns how many sessions got it."""
        return await self.gateway.dispatch(event, data, guild_id=id_of(guild) if guild is not None else None)

    async def dispatch_guild_create(self, guild: Guild) -> None:
        for session in self.gateway.live_sessions():
            if session.handles_guild(guild.id):
                await self.gateway.dispatch(
                    "GUILD_CREATE", self.gateway.guild_create_payload(guild, session), guild_id=guild.id
                )

    async def reconnect_gateway(self, *, wait: bool = True, timeout: float = 5.0) -> None:
        """op 7 RECONNECT; discord.py reconnects to ``resume_gateway_url`` and RESUMEs."""
        await self.gateway.reconnect(wait=wait, timeout=timeout)

    async def invalidate_session(
        self, *, resumable: bool = False, wait: bool = True, timeout: float = 5.0
    ) -> None:
        await self.gateway.invalidate_session(resumable=resumable, wait=wait, timeout=timeout)

    # ------------------------------------------------------------------ user actions
    def _check_connected(self) -> None:
        if not self.gateway.has_bot():
            raise RuntimeError("no bot is connected to the fake gateway (start_client() first)")

    async def _send_interaction(self, record: InteractionRecord) -> InteractionRecord:
        self._check_connected()
        record.created_at = time.monotonic()
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=record.guild_id)
        return record

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[dict[str, Any]] | None = None,
        *,
        user: Any = None,
        channel: Any = None,
        attachments: Sequence[AttachmentSpec] | Mapping[str, AttachmentSpec] | None = None,
    ) -> InteractionRecord:
        """A user runs ``/name`` ("group sub" for sub-commands) with ``options`` ({name: value}; values may be
        str/int/float/bool, ``(filename, bytes, content_type)`` for attachments, or fake User/Channel/Role).
        ``attachments`` fills the command's attachment options in order. Options are checked against the
        synced definition (required, choices, ranges) as Discord's client would."""
        return await self._send_interaction(
            self._command_record(
                name, options, user=user, channel=channel, attachments=attachments, focused=None
            )
        )

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        focused: str | None = None,
        user: Any = None,
        channel: Any = None,
    ) -> InteractionRecord:
        """A user types into an autocomplete option (``focused``, default: the last of ``options``).
        ``await record`` then ``record.choices``."""
        opts = dict(options or {})
        if focused is None:
            if not opts:
                raise ValueError("autocomplete needs at least the focused option's current value")
            focused = list(opts)[-1]
        opts.setdefault(focused, "")
        return await self._send_interaction(
            self._command_record(name, opts, user=user, channel=channel, attachments=None, focused=focused)
        )

    def _command_record(
        self,
        name: str,
        options: Any,
        *,
        user: Any,
        channel: Any,
        attachments: Any,
        focused: str | None,
    ) -> InteractionRecord:
        chan = self.state.channel(channel if channel is not None else self.channel)
        path = name.split()
        command = self.find_command(path[0], guild=chan.guild_id)
        if command is None and self.strict_commands:
            raise LookupError(
                f"/{path[0]} was never synced (global: {[c['name'] for c in self.global_commands]}, guild: "
                f"{[c['name'] for c in self.commands.get(chan.guild_id, [])]}); sync the tree, or use "
                "FakeDiscord(strict_commands=False)"
            )
        if command is not None and not offered_in(command, chan):
            raise LookupError(
                f"/{path[0]} is not offered {'in DMs' if chan.is_dm else 'here'} (contexts "
                f"{command.get('contexts')}): Discord's client would not let a user run it"
            )
        return self.interaction_factory.application_command(
            command,
            path,
            options,
            channel=chan,
            user=self.state.user(user if user is not None else self.user),
            attachments=attachments,
            focused=focused,
        )

    def _component_message(self, custom_id: str, message: Any) -> Message:
        if message is not None:
            return self.state.message(id_of(message), include_ephemeral=True)
        for candidate in reversed(list(self.state.messages.values())):
            if not candidate.deleted and candidate.find_component(custom_id) is not None:
                return candidate
        raise LookupError(f"no live message has a component with custom_id {custom_id!r}")

    async def click(self, custom_id: str, message: Any = None, *, user: Any = None) -> InteractionRecord:
        """A user clicks the button ``custom_id`` on ``message`` (default: the newest message having it)."""
        return await self._component(custom_id, message, user=user, values=None)

    async def select(
        self, custom_id: str, values: Sequence[str], message: Any = None, *, user: Any = None
    ) -> InteractionRecord:
        """A user picks ``values`` in the select menu ``custom_id``."""
        return await self._component(custom_id, message, user=user, values=list(values))

    async def _component(
        self, custom_id: str, message: Any, *, user: Any, values: list[str] | None
    ) -> InteractionRecord:
        msg = self._component_message(custom_id, message)
        component = msg.find_component(custom_id)
        if component is None:
            raise ValueError(f"message {msg.id} has no component {custom_id!r} (has {msg.custom_ids()})")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled; users cannot use it")
        if (values is None) != (component["type"] == 2):
            raise ValueError(
                f"component {custom_id!r} has type {component['type']}; use click() for buttons only"
            )
        record = self.interaction_factory.component(
            msg, component, user=self.state.user(user if user is not None else self.user), values=values
        )
        return await self._send_interaction(record)

    async def modal_submit(
        self, custom_id: str, fields: Mapping[str, Any], *, user: Any = None, channel: Any = None
    ) -> InteractionRecord:
        """A user submits the modal ``custom_id`` the bot opened, ``fields`` mapping input custom_id to value.
        The submission mirrors the modal's layout (action rows or labels) like Discord's client."""
        source = next(
            (
                r
                for r in reversed(self.interactions)
                if r.modal is not None and r.modal.get("custom_id") == custom_id
            ),
            None,
        )
        if source is None and self.strict_commands:
            raise LookupError(f"the bot never opened a modal with custom_id {custom_id!r}")
        chan = self.state.channel(
            channel if channel is not None else (source.channel_id if source else self.channel)
        )
        message = source.message_id if source else None
        record = self.interaction_factory.modal_submit(
            custom_id,
            fields,
            channel=chan,
            user=self.state.user(user if user is not None else (source.user if source else self.user)),
            definition=source.modal.get("components") if source and source.modal else None,
            message=self.state.messages.get(message) if message else None,
        )
        record.triggered_by = source
        return await self._send_interaction(record)

    async def post_message(
        self,
        content: str,
        *,
        user: Any = None,
        channel: Any = None,
        attachments: Sequence[AttachmentSpec] = (),
    ) -> Message:
        """A user posts a message (MESSAGE_CREATE is dispatched; content needs the MESSAGE_CONTENT intent
        unless it mentions the bot)."""
        chan = self.state.channel(channel if channel is not None else self.channel)
        author = self.state.user(user if user is not None else self.user)
        message = Message(self.snowflakes.next(), chan.id, chan.guild_id, author, content=content)
        message.attachments = [self.state.add_attachment(chan.id, *spec) for spec in attachments]
        self.state.add_message(message)
        await self.message_events.created(message)
        return message

    async def delete_message(self, message: Any) -> Message:
        """Someone (e.g. a moderator) deletes a message: later API calls on it answer 404/10008."""
        msg = self.message(message)
        msg.deleted = True
        await self.message_events.deleted(msg)
        return msg

"""Login, gateway discovery, application commands, and read-only user/guild routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .command_creates import MAX_DAILY_CREATES_CODE
from .conformance import Violation
from .errors import UNKNOWN_APPLICATION_COMMAND, UNKNOWN_MEMBER, ApiError, FieldErrors
from .limits import validate_command, validate_command_list
from .ratelimit import too_many_requests
from .reply import Reply
from .rest import RestRequest, Router

if TYPE_CHECKING:
    from .server import FakeDiscord

GLOBAL_COMMANDS = "/applications/{application_id}/commands"
GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"


class ApplicationRoutes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def register(self, router: Router) -> None:
        router.add("GET", "/users/@me", self.current_user)
        router.add("GET", "/oauth2/applications/@me", self.application)
        router.add("GET", "/applications/@me", self.application)
        router.add("GET", "/gateway", self.gateway, auth=False)
        router.add("GET", "/gateway/bot", self.gateway_bot)
        for scope in (GLOBAL_COMMANDS, GUILD_COMMANDS):
            router.add("GET", scope, self.list_commands)
            router.add("PUT", scope, self.bulk_overwrite, rules=validate_command_list)
            router.add("POST", scope, self.create_command, rules=_validate_one_command)
            router.add("GET", scope + "/{command_id}", self.get_command)
            router.add("DELETE", scope + "/{command_id}", self.delete_command)
        router.add("GET", "/users/{user_id}", self.get_user)
        router.add("GET", "/guilds/{guild_id}", self.get_guild)
        router.add("GET", "/guilds/{guild_id}/channels", self.guild_channels)
        router.add("GET", "/guilds/{guild_id}/roles", self.guild_roles)
        router.add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)

    # ------------------------------------------------------------------ login
    async def current_user(self, req: RestRequest) -> Any:
        return {**self.fake.bot_user.payload(), "verified": True, "mfa_enabled": False, "locale": "en-US"}

    async def application(self, req: RestRequest) -> Any:
        """The bot's own application (PrivateApplicationResponse), as a guild-install-only app."""
        guilds = [g for g in self.fake.state.guilds.values() if self.fake.bot_user.id in g.members]
        return {
            "id": self.fake.application_id,
            "name": self.fake.bot_user.username,
            "icon": None,
            "description": "",
            "type": None,
            "bot": self.fake.bot_user.payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "flags_new": "0",
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "event_webhooks_url": None,
            "event_webhooks_status": 1,
            "owner": self.fake.owner.payload(),
            "team": None,
            "approximate_guild_count": len(guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "integration_types_config": {
                "0": {
                    "oauth2_install_params": {"scopes": ["applications.commands", "bot"], "permissions": "0"}
                }
            },
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["applications.commands", "bot"],
        }

    async def gateway(self, req: RestRequest) -> Any:
        return {"url": self.fake.gateway_url}

    async def gateway_bot(self, req: RestRequest) -> Any:
        return {
            "url": self.fake.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
        }

    # ------------------------------------------------------------------ application commands
    def _scope(self, req: RestRequest) -> str | None:
        if req.params["application_id"] != self.fake.application_id:
            raise ApiError.missing_access()
        guild_id = req.params.get("guild_id")
        if guild_id is not None:
            guild = self.fake.state.guild(guild_id)
            if self.fake.bot_user.id not in guild.members:
                raise ApiError.missing_access()
        return guild_id

    def _store(self, scope: str | None, command: dict[str, Any]) -> dict[str, Any]:
        """The command as Discord keeps and returns it (ApplicationCommandResponse)."""
        ctype = command.get("type") or 1
        existing = {(c["type"], c["name"]): c for c in self.fake.commands.get(scope, [])}
        previous = existing.get((ctype, command.get("name")))
        permissions = command.get("default_member_permissions")
        stored: dict[str, Any] = {
            "id": previous["id"] if previous else self.fake.snowflakes.next(),
            "application_id": self.fake.application_id,
            "version": self.fake.snowflakes.next(),
            "type": ctype,
            "name": command["name"],
            "description": command.get("description") or "",
            "default_member_permissions": None if permissions is None else str(permissions),
            "nsfw": bool(command.get("nsfw")),
            # a guild-install app: its commands are installed with the guild ([GUILD_INSTALL])
            "integration_types": list(command.get("integration_types") or [0]),
            "contexts": list(command["contexts"]) if command.get("contexts") is not None else None,
        }
        if scope is None:
            stored["dm_permission"] = command.get("dm_permission") is not False
        else:
            stored["guild_id"] = scope
        for key in ("name_localizations", "description_localizations"):
            if command.get(key) is not None:
                stored[key] = command[key]
        if command.get("options"):
            stored["options"] = [_without_nulls(o) for o in command["options"]]
        return stored

    async def list_commands(self, req: RestRequest) -> Any:
        return self.fake.commands.get(self._scope(req), [])

    def _creates(self, scope: str | None, commands: list[Any]) -> int:
        """How many of ``commands`` do not exist yet in ``scope`` (what Discord's daily limit counts)."""
        existing = {(c["type"], c["name"]) for c in self.fake.commands.get(scope, [])}
        return len({(c.get("type") or 1, c.get("name")) for c in commands} - existing)

    def _over_daily_limit(self, req: RestRequest, scope: str | None, creates: int) -> Reply | None:
        """429/30034 when ``creates`` more would pass the daily limit; recorded as a violation."""
        retry_after = self.fake.command_creates.take(scope, creates)
        if retry_after is None:
            return None
        message = self.fake.command_creates.message
        violation = Violation(
            req.record.operation or f"{req.method} {req.route}",
            "request",
            (),
            f"docs: {MAX_DAILY_CREATES_CODE}",
            f"{creates} new command(s) in {scope or 'global'} scope: {message}",
            "docs",
            True,
            429,
            str(MAX_DAILY_CREATES_CODE),
            message,
        )
        req.record.violations += self.fake.conformance.record([violation])
        reply = too_many_requests(retry_after)
        reply.body = {**reply.body, "message": message, "code": MAX_DAILY_CREATES_CODE}
        return reply

    async def bulk_overwrite(self, req: RestRequest) -> Any:
        scope = self._scope(req)  # the body passed the spec and validate_command_list in the pipeline
        refused = self._over_daily_limit(req, scope, self._creates(scope, req.json))
        if refused is not None:
            return refused
        stored = [self._store(scope, c) for c in req.json]
        self.fake.commands[scope] = stored
        return stored

    async def create_command(self, req: RestRequest) -> Any:
        scope = self._scope(req)
        refused = self._over_daily_limit(req, scope, self._creates(scope, [req.body()]))
        if refused is not None:
            return refused
        stored = self._store(scope, req.body())
        commands = [
            c
            for c in self.fake.commands.get(scope, [])
            if (c["type"], c["name"]) != (stored["type"], stored["name"])
        ]
        self.fake.commands[scope] = [*commands, stored]
        return stored

    def _find(self, req: RestRequest) -> tuple[str | None, dict[str, Any]]:
        scope = self._scope(req)
        for command in self.fake.commands.get(scope, []):
            if command["id"] == req.params["command_id"]:
                return scope, command
        raise ApiError.not_found(UNKNOWN_APPLICATION_COMMAND, "application command")

    async def get_command(self, req: RestRequest) -> Any:
        return self._find(req)[1]

    async def delete_command(self, req: RestRequest) -> Any:
        scope, command = self._find(req)
        self.fake.commands[scope] = [c for c in self.fake.commands[scope] if c is not command]
        return None

    # ------------------------------------------------------------------ users and guilds
    async def get_user(self, req: RestRequest) -> Any:
        return self.fake.state.user(req.params["user_id"]).payload()

    def _guild(self, req: RestRequest) -> Any:
        guild = self.fake.state.guild(req.params["guild_id"])
        if self.fake.bot_user.id not in guild.members:
            raise ApiError.missing_access()
        return guild

    async def get_guild(self, req: RestRequest) -> Any:
        guild = self._guild(req)
        payload = guild.rest_payload()
        if req.flag("with_counts"):
            payload.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return payload

    async def guild_channels(self, req: RestRequest) -> Any:
        return [c.payload() for c in self._guild(req).channels.values()]

    async def guild_roles(self, req: RestRequest) -> Any:
        return [r.payload() for r in self._guild(req).roles.values()]

    async def get_member(self, req: RestRequest) -> Any:
        member = self._guild(req).members.get(req.params["user_id"])
        if member is None:
            raise ApiError.not_found(UNKNOWN_MEMBER, "Member")
        return member.payload()


def _without_nulls(value: Any) -> Any:
    """Discord leaves unset fields out of what it returns (the bot may have sent them as null)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _validate_one_command(body: Any) -> FieldErrors:
    errors = FieldErrors()
    validate_command(body, (), errors)
    return errors

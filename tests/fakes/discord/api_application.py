"""Login, gateway discovery, application commands, and read-only user/guild routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import UNKNOWN_APPLICATION_COMMAND, UNKNOWN_MEMBER, ApiError, FieldErrors
from .limits import validate_command, validate_command_list
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
            router.add("PUT", scope, self.bulk_overwrite)
            router.add("POST", scope, self.create_command)
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
        return {
            "id": self.fake.application_id,
            "name": self.fake.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "owner": self.fake.owner.payload(),
            "bot": self.fake.bot_user.payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
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
        existing = {(c.get("type", 1), c["name"]): c for c in self.fake.commands.get(scope, [])}
        previous = existing.get((command.get("type", 1), command.get("name")))
        stored: dict[str, Any] = {
            "type": 1,
            "description": "",
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": previous["id"] if previous else self.fake.snowflakes.next(),
            "application_id": self.fake.application_id,
            "version": self.fake.snowflakes.next(),
        }
        if scope is not None:
            stored["guild_id"] = scope
        return stored

    async def list_commands(self, req: RestRequest) -> Any:
        return self.fake.commands.get(self._scope(req), [])

    async def bulk_overwrite(self, req: RestRequest) -> Any:
        scope = self._scope(req)
        validate_command_list(req.json).raise_if_any()
        stored = [self._store(scope, c) for c in req.json]
        self.fake.commands[scope] = stored
        return stored

    async def create_command(self, req: RestRequest) -> Any:
        scope = self._scope(req)
        errors = FieldErrors()
        validate_command(req.body(), (), errors)
        errors.raise_if_any()
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
        payload = self.fake.gateway.guild_create_payload(self._guild(req))
        for key in ("channels", "members", "threads", "voice_states", "presences", "joined_at", "large"):
            payload.pop(key, None)
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

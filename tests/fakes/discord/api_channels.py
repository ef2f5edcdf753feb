"""Channel and message routes used by a bot outside interactions (status messages, results, DMs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    CANNOT_EDIT_OTHER_USERS_MESSAGE,
    CANNOT_SEND_MESSAGES_TO_USER,
    INVALID_FORM_BODY,
    ApiError,
)
from .permissions import Permission
from .rest import RestRequest, Router
from .state import Channel, Message

if TYPE_CHECKING:
    from .server import FakeDiscord

MESSAGES = "/channels/{channel_id}/messages"
MESSAGE = "/channels/{channel_id}/messages/{message_id}"


class ChannelRoutes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    def register(self, router: Router) -> None:
        router.add("GET", "/channels/{channel_id}", self.get_channel)
        router.add("GET", MESSAGES, self.history)
        router.add("POST", MESSAGES, self.create_message)
        router.add("GET", MESSAGE, self.get_message)
        router.add("PATCH", MESSAGE, self.edit_message)
        router.add("DELETE", MESSAGE, self.delete_message)
        router.add("POST", "/channels/{channel_id}/typing", self.typing)
        router.add("POST", "/users/@me/channels", self.create_dm)

    # ------------------------------------------------------------------ helpers
    def _channel(self, req: RestRequest, *needed: Permission) -> Channel:
        channel = self.state.channel(req.params["channel_id"])
        if channel.is_dm:
            return channel
        perms = self.state.permissions_for(self.fake.bot_user, channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise ApiError.missing_access()
        for permission in needed:
            if not perms & permission:
                raise ApiError.missing_permissions()
        return channel

    def _message(self, req: RestRequest, channel: Channel) -> Message:
        return self.state.message(req.params["message_id"], channel_id=channel.id)

    # ------------------------------------------------------------------ routes
    async def get_channel(self, req: RestRequest) -> Any:
        return self._channel(req).payload()

    async def history(self, req: RestRequest) -> Any:
        channel = self._channel(req, Permission.READ_MESSAGE_HISTORY)
        limit = int(req.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise ApiError(400, INVALID_FORM_BODY, "Invalid Form Body: limit must be 1..100")
        messages = [m for m in self.state.channel_messages(channel) if not m.ephemeral]
        if "before" in req.query:
            messages = [m for m in messages if int(m.id) < int(req.query["before"])]
        if "after" in req.query:
            messages = [m for m in messages if int(m.id) > int(req.query["after"])]
            messages = messages[:limit]
        messages = sorted(messages, key=lambda m: int(m.id), reverse=True)[:limit]
        return [self.fake.writer.payload(m) for m in messages]

    async def create_message(self, req: RestRequest) -> Any:
        needed = [Permission.SEND_MESSAGES]
        if req.files:
            needed.append(Permission.ATTACH_FILES)
        channel = self._channel(req, *needed)
        if channel.is_dm and not all(u.dms_open for u in channel.recipients):
            raise ApiError(403, CANNOT_SEND_MESSAGES_TO_USER, "Cannot send messages to this user")
        message = self.fake.writer.create(channel, req.body(), req.files, author=self.fake.bot_user)
        await self.fake.message_events.created(message)
        return self.fake.writer.payload(message)

    async def get_message(self, req: RestRequest) -> Any:
        channel = self._channel(req, Permission.READ_MESSAGE_HISTORY)
        return self.fake.writer.payload(self._message(req, channel))

    async def edit_message(self, req: RestRequest) -> Any:
        channel = self._channel(req)
        message = self._message(req, channel)
        if message.author.id != self.fake.bot_user.id:
            raise ApiError(
                403, CANNOT_EDIT_OTHER_USERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        self.fake.writer.edit(message, req.body(), req.files)
        await self.fake.message_events.updated(message)
        return self.fake.writer.payload(message)

    async def delete_message(self, req: RestRequest) -> Any:
        channel = self._channel(req)
        message = self._message(req, channel)
        if message.author.id != self.fake.bot_user.id and not channel.is_dm:
            perms = self.state.permissions_for(self.fake.bot_user, channel)
            if not perms & Permission.MANAGE_MESSAGES:
                raise ApiError.missing_permissions()
        message.deleted = True
        await self.fake.message_events.deleted(message)
        return None

    async def typing(self, req: RestRequest) -> Any:
        self._channel(req, Permission.SEND_MESSAGES)
        return None

    async def create_dm(self, req: RestRequest) -> Any:
        recipient = req.body().get("recipient_id")
        if recipient is None:
            raise ApiError(400, INVALID_FORM_BODY, "Invalid Form Body: recipient_id is required")
        return self.state.dm_channel(str(recipient)).payload()

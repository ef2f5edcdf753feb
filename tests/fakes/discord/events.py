"""Gateway events Discord sends for message changes (MESSAGE_CREATE/UPDATE/DELETE).

Guild messages need the GUILD_MESSAGES intent, DMs DIRECT_MESSAGES; ephemeral messages produce no
events. Without MESSAGE_CONTENT, content/embeds/attachments/components of other users' guild messages
arrive empty, unless they mention the bot.
"""

from __future__ import annotations

from typing import Any

from .gateway import Gateway, Intents
from .messages import MessageWriter
from .state import Message, User


class MessageEvents:
    def __init__(
        self, gateway: Gateway, writer: MessageWriter, bot_user: User, *, enabled: bool = True
    ) -> None:
        self.gateway = gateway
        self.writer = writer
        self.bot_user = bot_user
        self.enabled = enabled

    def _route(self, message: Message) -> dict[str, Any]:
        private = message.guild_id is None
        return {
            "guild_id": message.guild_id,
            "intent": Intents.DIRECT_MESSAGES if private else Intents.GUILD_MESSAGES,
            "strip_content": not private
            and message.author.id != self.bot_user.id
            and self.bot_user.mention not in message.content,
        }

    async def created(self, message: Message) -> None:
        if self.enabled and not message.ephemeral:
            await self.gateway.dispatch(
                "MESSAGE_CREATE", self.writer.gateway_payload(message), **self._route(message)
            )

    async def updated(self, message: Message) -> None:
        if self.enabled and not message.ephemeral:
            await self.gateway.dispatch(
                "MESSAGE_UPDATE", self.writer.gateway_payload(message), **self._route(message)
            )

    async def deleted(self, message: Message) -> None:
        if self.enabled and not message.ephemeral:
            data: dict[str, Any] = {"id": message.id, "channel_id": message.channel_id}
            if message.guild_id is not None:
                data["guild_id"] = message.guild_id
            route = self._route(message)
            route.pop("strip_content")
            await self.gateway.dispatch("MESSAGE_DELETE", data, **route)

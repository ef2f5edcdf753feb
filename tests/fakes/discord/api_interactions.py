"""Interaction callback and interaction-webhook routes (original response and followups).

* ``POST /interactions/{id}/{token}/callback``: valid once (400/40060 afterwards) and only within
  ``ack_deadline`` of the dispatch (404/10062 afterwards). With ``with_response`` it answers the
  InteractionCallbackResponse ``{"interaction": {...}, "resource": {"type", "message"}}`` that
  discord.py >= 2.5 parses.
* ``/webhooks/{application_id}/{token}...``: valid for ``token_lifetime`` after the dispatch
  (401/50027 "Invalid Webhook Token" afterwards), and only once the interaction was acknowledged.
* A followup sent while the original response is still "thinking" (deferred with type 5) replaces
  that placeholder instead of creating a new message (documented, deprecated Discord behaviour).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    INTERACTION_ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_WEBHOOK,
    ApiError,
    FieldErrors,
)
from .interactions import (
    ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    InteractionRecord,
)
from .limits import validate_autocomplete_choices, validate_modal
from .messages import INTERACTION_MESSAGE_FLAGS
from .rest import RestRequest, Router
from .state import FLAG_LOADING, MSG_CHAT_INPUT_COMMAND, Message

if TYPE_CHECKING:
    from .server import FakeDiscord

WEBHOOK = "/webhooks/{application_id}/{token}"
ORIGINAL = WEBHOOK + "/messages/@original"
WEBHOOK_MESSAGE = WEBHOOK + "/messages/{message_id}"


class InteractionRoutes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    def register(self, router: Router) -> None:
        router.add("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, auth=False)
        router.add("POST", WEBHOOK, self.followup, auth=False)
        for template in (ORIGINAL, WEBHOOK_MESSAGE):
            router.add("GET", template, self.get_message, auth=False)
            router.add("PATCH", template, self.edit_message, auth=False)
            router.add("DELETE", template, self.delete_message, auth=False)

    # ------------------------------------------------------------------ helpers
    def _metadata(self, rec: InteractionRecord, *, nested: bool = False) -> dict[str, Any]:
        """The message's ``interaction_metadata`` (a modal submit's names what opened the modal)."""
        meta: dict[str, Any] = {
            "id": rec.id,
            "type": rec.type,
            "user": rec.user.payload(),
            "authorizing_integration_owners": rec.payload.get("authorizing_integration_owners", {}),
        }
        if rec.type == MESSAGE_COMPONENT and rec.message_id:
            meta["interacted_message_id"] = rec.message_id
        if rec.original_message_id:
            meta["original_response_message_id"] = rec.original_message_id
        if rec.type == MODAL_SUBMIT and not nested:
            trigger = rec.triggered_by
            meta["triggering_interaction_metadata"] = (
                self._metadata(trigger, nested=True)
                if trigger is not None
                else {  # a submit nobody opened (strict_commands=False): as if a slash command did
                    "id": self.fake.snowflakes.next(),
                    "type": APPLICATION_COMMAND,
                    "user": rec.user.payload(),
                    "authorizing_integration_owners": meta["authorizing_integration_owners"],
                }
            )
        return meta

    def _new_message(
        self, rec: InteractionRecord, body: dict[str, Any], req: RestRequest, **kwargs: Any
    ) -> Message:
        return self.fake.writer.create(
            self.state.channel(rec.channel_id),
            body,
            req.files,
            author=self.fake.bot_user,
            allowed_flags=INTERACTION_MESSAGE_FLAGS,
            type=MSG_CHAT_INPUT_COMMAND if rec.type == APPLICATION_COMMAND else 0,
            webhook_id=self.fake.application_id,
            application_id=self.fake.application_id,
            interaction_metadata=self._metadata(rec),
            **kwargs,
        )

    def _webhook_interaction(self, req: RestRequest) -> InteractionRecord:
        if req.params["application_id"] != self.fake.application_id:
            raise ApiError.not_found(UNKNOWN_WEBHOOK, "Webhook")
        rec = self.fake.interaction_factory.by_token.get(req.params["token"])
        invalid = ApiError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        if rec is None:
            raise invalid
        age = req.received_at - rec.created_at
        if age > self.fake.token_lifetime:
            raise invalid
        if not rec.acknowledged:
            if age > self.fake.ack_deadline:
                raise invalid
            raise ApiError.not_found(UNKNOWN_WEBHOOK, "Webhook")
        return rec

    def _webhook_message(self, req: RestRequest, rec: InteractionRecord) -> Message:
        message_id = req.params.get("message_id")
        if message_id is None:  # @original
            message_id = rec.original_message_id
        elif message_id not in (rec.original_message_id, *rec.followup_ids):
            raise ApiError.unknown_message()
        if message_id is None:
            raise ApiError.unknown_message()
        return self.state.message(message_id, include_ephemeral=True)

    # ------------------------------------------------------------------ callback
    async def callback(self, req: RestRequest) -> Any:
        rec = self.fake.interaction_factory.by_token.get(req.params["token"])
        try:
            if rec is None or rec.id != req.params["interaction_id"]:
                raise ApiError.not_found(UNKNOWN_INTERACTION, "interaction")
            if rec.acknowledged:
                raise ApiError(
                    400, INTERACTION_ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
                )
            if req.received_at - rec.created_at > self.fake.ack_deadline:
                raise ApiError.not_found(UNKNOWN_INTERACTION, "interaction")
        except ApiError as e:
            if rec is not None:
                rec.failures.append((e.status, e.code))
            raise
        body = req.body()
        ctype = int(body.get("type") or 0)
        if ctype not in ALLOWED_CALLBACKS[rec.type]:
            errors = FieldErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Callback type {ctype!r} is not valid for interaction type {rec.type}",
            )
            errors.raise_if_any()
        data = body.get("data") or {}
        resource: Message | None = None
        if ctype == CHANNEL_MESSAGE_WITH_SOURCE:
            resource = self._new_message(rec, data, req)
            rec.original_message_id = resource.id
            await self.fake.message_events.created(resource)
        elif ctype == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            resource = self._new_message(
                rec, {"flags": data.get("flags", 0)}, req, extra_flags=FLAG_LOADING, validate=False
            )
            rec.original_message_id = resource.id
            await self.fake.message_events.created(resource)
        elif ctype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            if rec.message_id is None:
                raise ApiError(400, 50035, "Invalid Form Body: this interaction has no message to update")
            rec.original_message_id = rec.message_id
            if ctype == UPDATE_MESSAGE:
                resource = self.state.message(rec.message_id, include_ephemeral=True)
                self.fake.writer.edit(resource, data, req.files)
                await self.fake.message_events.updated(resource)
        elif ctype == AUTOCOMPLETE_RESULT:
            validate_autocomplete_choices(data).raise_if_any()
            rec.choices = list(data["choices"])
        elif ctype == MODAL:
            validate_modal(data).raise_if_any()
            rec.modal = data
        rec.mark_acknowledged(ctype, body, req.received_at)
        if not req.flag("with_response"):
            return None
        # InteractionCallbackResponse: a resource only for a message sent (4) or updated (7); a
        # "thinking" defer (5) names its placeholder message in ``interaction`` but has no resource.
        interaction: dict[str, Any] = {"id": rec.id, "type": rec.type}
        out: dict[str, Any] = {"interaction": interaction}
        if resource is not None:
            interaction.update(
                response_message_id=resource.id,
                response_message_loading=resource.loading,
                response_message_ephemeral=resource.ephemeral,
            )
            if ctype in (CHANNEL_MESSAGE_WITH_SOURCE, UPDATE_MESSAGE):
                out["resource"] = {"type": ctype, "message": self.fake.writer.payload(resource)}
        return out

    # ------------------------------------------------------------------ webhooks
    async def followup(self, req: RestRequest) -> Any:
        rec = self._webhook_interaction(req)
        original = rec.original_message
        if (
            self.fake.followup_edits_loading
            and original is not None
            and original.loading
            and not original.deleted
        ):
            message = self.fake.writer.edit(
                original, {k: v for k, v in req.body().items() if k != "flags"}, req.files
            )
            await self.fake.message_events.updated(message)
        else:
            message = self._new_message(rec, req.body(), req)
            rec.followup_ids.append(message.id)
            await self.fake.message_events.created(message)
        return self.fake.writer.payload(message) if req.flag("wait") else None

    async def get_message(self, req: RestRequest) -> Any:
        rec = self._webhook_interaction(req)
        return self.fake.writer.payload(self._webhook_message(req, rec))

    async def edit_message(self, req: RestRequest) -> Any:
        rec = self._webhook_interaction(req)
        message = self._webhook_message(req, rec)
        self.fake.writer.edit(message, req.body(), req.files)
        await self.fake.message_events.updated(message)
        return self.fake.writer.payload(message)

    async def delete_message(self, req: RestRequest) -> Any:
        rec = self._webhook_interaction(req)
        message = self._webhook_message(req, rec)
        message.deleted = True
        await self.fake.message_events.deleted(message)
        return None

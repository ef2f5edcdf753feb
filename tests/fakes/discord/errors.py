"""Discord-shaped API errors: JSON bodies ``{"message", "code", "errors"}`` like the real API.

Codes come from https://discord.com/developers/docs/topics/opcodes-and-status-codes#json.
Nested ``errors`` objects follow Discord's "Invalid Form Body" format, which discord.py flattens
into ``HTTPException.text`` and ``CommandSyncFailure`` messages.
"""

from __future__ import annotations

from typing import Any

UNAUTHORIZED = 0
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_APPLICATION_COMMAND = 10063
REQUEST_ENTITY_TOO_LARGE = 40005
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_EDIT_OTHER_USERS_MESSAGE = 50005
CANNOT_SEND_EMPTY_MESSAGE = 50006
CANNOT_SEND_MESSAGES_TO_USER = 50007
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035
INVALID_JSON = 50109


class FieldErrors:
    """Collects per-field validation errors in Discord's nested ``{"a": {"0": {"_errors": [...]}}}`` form."""

    def __init__(self) -> None:
        self._tree: dict[str, Any] = {}
        self.flat: list[tuple[str, str, str]] = []  # (dotted path, code, message), for readable asserts

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self._tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.flat.append((".".join(str(p) for p in path), code, message))

    def max_length(self, path: tuple[str | int, ...], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def bad_length(self, path: tuple[str | int, ...], low: int, high: int) -> None:
        self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def to_dict(self) -> dict[str, Any]:
        return self._tree

    def __bool__(self) -> bool:
        return bool(self.flat)

    def raise_if_any(self) -> None:
        if self:
            raise ApiError.invalid_form_body(self)


class ApiError(Exception):
    """Raised by route handlers; the REST pipeline turns it into a Discord JSON error response."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        field_errors: FieldErrors | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        #: the per-field errors of a 50035 answer (the fake records them as rule violations)
        self.field_errors = field_errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            out["errors"] = self.errors
        return out

    @classmethod
    def invalid_form_body(cls, errors: FieldErrors) -> ApiError:
        return cls(400, INVALID_FORM_BODY, "Invalid Form Body", errors=errors.to_dict(), field_errors=errors)

    @classmethod
    def not_found(cls, code: int, what: str) -> ApiError:
        return cls(404, code, f"Unknown {what}")

    @classmethod
    def unknown_message(cls) -> ApiError:
        return cls.not_found(UNKNOWN_MESSAGE, "Message")

    @classmethod
    def too_large(cls) -> ApiError:
        return cls(413, REQUEST_ENTITY_TOO_LARGE, "Request entity too large")

    @classmethod
    def missing_permissions(cls) -> ApiError:
        return cls(403, MISSING_PERMISSIONS, "Missing Permissions")

    @classmethod
    def missing_access(cls) -> ApiError:
        return cls(403, MISSING_ACCESS, "Missing Access")

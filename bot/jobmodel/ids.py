"""Short, user-visible job ids: 8 characters of Crockford base32 (40 random bits)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
JOB_ID_LENGTH: Final = 8
_BITS: Final = 5 * JOB_ID_LENGTH

# Crockford's decoding rules: case-insensitive, I/L read as 1 and O as 0, hyphens are readability only.
_READ_AS: Final = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None})
_VALID: Final = frozenset(ALPHABET)


def new_job_id(randbits: Callable[[int], int] = secrets.randbits) -> str:
    """Draw a fresh id; ``randbits`` is injectable so tests can be deterministic."""
    value = randbits(_BITS)
    chars = []
    for _ in range(JOB_ID_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def normalize_job_id(text: str) -> str | None:
    """The canonical id a member meant (``"abc-d0ef1"`` -> ``"ABCD0EF1"``), or None if it is not one."""
    candidate = text.strip().upper().translate(_READ_AS)
    if len(candidate) != JOB_ID_LENGTH or not set(candidate) <= _VALID:
        return None
    return candidate

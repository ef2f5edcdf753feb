"""Template versions: a short id that names the exact text of a template's files.

The id is computed from the decoded text (not the bytes), so the same files read from the folder or
from the database's version history get the same id.
"""

from __future__ import annotations

import hashlib

VERSION_LENGTH = 12
"""Hex digits of a version id: short enough to read in Discord, long enough never to collide."""


def version_id(workflow: str, manifest: str | None) -> str:
    """The version of a template made of ``workflow`` (the API export) and ``manifest`` (or none)."""
    digest = hashlib.sha256(b"workflow\0" + workflow.encode())
    if manifest is not None:
        digest.update(b"\0manifest\0" + manifest.encode())
    return digest.hexdigest()[:VERSION_LENGTH]


def file_hash(text: str) -> str:
    """The SHA-256 of a file's text (as UTF-8), as the audit log records it."""
    return hashlib.sha256(text.encode()).hexdigest()

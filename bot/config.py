"""Frozen settings built from an environment mapping.

Every variable is declared once in ``VARIABLES`` (a test keeps ``.env.example`` in sync with it).
``load_settings`` reads a plain mapping, does no I/O, and reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.comfy.endpoint import BackendAuth, Endpoint, default_display_name, display_name_problem
from bot.errors import ConfigError
from bot.numbers import parse_plain_float, parse_plain_int
from bot.secret import Secret

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    default: str
    doc: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "DISCORD_TOKEN",
        "",
        "Bot token from the Discord developer portal (required to run the bot).",
        secret=True,
    ),
    Variable("DEV_GUILD_ID", "", "Guild id to sync commands to instantly while developing (optional)."),
    Variable("OWNER_IDS", "", "Comma-separated Discord user ids allowed to run owner-only commands."),
    Variable(
        "COMFYUI_URLS",
        "http://127.0.0.1:8188",
        "Comma-separated ComfyUI base URLs (http or https); user:password@ in a URL means basic auth.",
    ),
    Variable(
        "COMFYUI_NAMES",
        "",
        "What members see instead of each address, one name per URL of COMFYUI_URLS in the same order, "
        "e.g. Big GPU,Laptop (default GPU 1, GPU 2, ...). Up to 32 letters, digits, spaces, emoji "
        "and - . ' ( ) + / &.",
    ),
    Variable(
        "COMFYUI_AUTH_1",
        "",
        "Auth for the Nth backend of COMFYUI_URLS (1-based): bearer:TOKEN, basic:USER:PASSWORD "
        "or header:NAME:VALUE. COMFYUI_AUTH_2, _3 ... work the same.",
        secret=True,
    ),
    Variable("COMFYUI_TIMEOUT", "30", "Seconds an HTTP request to ComfyUI may take (uploads included)."),
    Variable(
        "COMFYUI_MAX_IN_FLIGHT",
        "2",
        "Prompts kept inside each ComfyUI at once, so the next one waits there when one finishes.",
    ),
    Variable("DATA_DIR", "./data", "Where the SQLite database and the image spool live."),
    Variable("WORKFLOWS_DIR", "./workflows", "Folder of API-format workflow exports and their manifests."),
    Variable(
        "WORKFLOW_MAX_MB",
        "4",
        "Largest workflow or manifest file read from WORKFLOWS_DIR, in MiB; bigger files are reported "
        "and skipped.",
    ),
    Variable(
        "WORKFLOWS_POLL_SECONDS",
        "2",
        "How often the workflows folder is looked at for added, changed or removed files, which go live "
        "without a restart; 0 turns watching off (changes made with /template still go live).",
    ),
    Variable(
        "IMAGE_MAX_SIDE",
        "4096",
        "Longest side, in pixels, of an input image (attachment or --image); wider or taller ones are "
        "refused with a message, as are images over 4096x4096 pixels in all.",
    ),
    Variable(
        "OUTPUT_MAX_MB",
        "256",
        "Largest result file (a video, an animation) fetched from ComfyUI, in MiB; a larger one is left "
        "on the server and the result says so.",
    ),
    Variable(
        "MEDIA_FIT_SECONDS",
        "120",
        "Seconds re-encoding one result to fit Discord's upload limit may take; after that the member "
        "gets its first frame and a note.",
    ),
    Variable("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Variable("LOG_FORMAT", "text", "text for humans, json for JSON lines."),
    Variable("JOB_MAX_RUNTIME", "900", "Seconds a job may run on a backend before it is interrupted."),
    Variable("MAX_QUEUED_PER_USER", "5", "Jobs one member may have waiting at once."),
    Variable("MAX_QUEUED_TOTAL", "500", "Jobs that may wait in the whole queue at once."),
    Variable("RETENTION_HOURS", "24", "Hours spooled inputs and outputs are kept after delivery."),
    Variable(
        "AUDIT_RETENTION_DAYS",
        "90",
        "Days moderation audit entries (/mod log) are kept; expired bans and old quota counts go sooner.",
    ),
    Variable("EDIT_INTERVAL", "2.0", "Minimum seconds between two edits of one status message."),
    Variable("LIVE_PREVIEWS", "true", "Show sampler previews in status messages (true/false)."),
    Variable("METRICS_PORT", "", "Port for /metrics and /healthz; empty turns them off."),
    Variable(
        "METRICS_HOST",
        "127.0.0.1",
        "Address the metrics port binds; 0.0.0.0 lets other hosts and containers scrape it.",
    ),
)

_BY_NAME = {v.name: v for v in VARIABLES}
_AUTH_VAR = re.compile(r"^COMFYUI_AUTH_([0-9]+)$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot needs, validated. Secrets are wrapped so they never print."""

    discord_token: Secret
    dev_guild_id: int | None
    owner_ids: frozenset[int]
    backends: tuple[Endpoint, ...]
    comfyui_timeout: float
    max_in_flight: int
    data_dir: Path
    workflows_dir: Path
    workflow_max_bytes: int
    image_max_side: int
    log_level: str
    log_format: str
    job_max_runtime: float
    max_queued_per_user: int
    max_queued_total: int
    retention_hours: float
    edit_interval: float
    live_previews: bool
    metrics_port: int | None
    metrics_host: str = "127.0.0.1"
    audit_retention_days: float = 90.0
    output_max_bytes: int = 256 * 2**20
    media_fit_seconds: float = 120.0
    workflows_poll_seconds: float = 2.0
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)


class _Reader:
    """Collects problems instead of raising at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return _BY_NAME[name].default
        return value.strip()

    def parse(self, name: str, convert: Callable[[str], T], fallback: T, what: str) -> T:
        text = self.raw(name)
        try:
            return convert(text)
        except ValueError:
            shown = "(hidden)" if _BY_NAME[name].secret else repr(text)
            self.problems.append(f"{name} must be {what}, got {shown}")
            return fallback

    def number(
        self,
        name: str,
        fallback: float,
        *,
        minimum: float,
        maximum: float | None = None,
        integer: bool = False,
    ) -> float:
        def convert(text: str) -> float:
            value = parse_plain_int(text) if integer else parse_plain_float(text)
            if value < minimum or (maximum is not None and value > maximum):
                raise ValueError(text)
            return value

        kind = "a whole number" if integer else "a number"
        bounds = f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
        return self.parse(name, convert, fallback, f"{kind} {bounds}")


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _parse_ids(text: str) -> frozenset[int]:
    return frozenset(parse_plain_int(part) for part in text.split(",") if part.strip())


def _optional_int(text: str) -> int | None:
    return parse_plain_int(text) if text else None


def _parse_auth(spec: str) -> BackendAuth:
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "bearer" and rest:
        return BackendAuth("bearer", value=Secret(rest))
    if kind == "basic" and ":" in rest:
        return BackendAuth("basic", value=Secret(rest))
    if kind == "header":
        name, _, value = rest.partition(":")
        if name.strip() and value:
            return BackendAuth("header", header_name=name.strip(), value=Secret(value))
    raise ValueError("bad auth")


def _parse_backends(reader: _Reader) -> tuple[Endpoint, ...]:
    urls = [u.strip() for u in reader.raw("COMFYUI_URLS").split(",") if u.strip()]
    if not urls:
        reader.problems.append("COMFYUI_URLS must name at least one ComfyUI server")
    display_names = _parse_display_names(reader, len(urls))
    auth_by_index: dict[int, str] = {}
    for key, value in reader.env.items():
        match = _AUTH_VAR.match(key)
        if match and value.strip():
            auth_by_index[int(match.group(1))] = value.strip()
    for index in auth_by_index:
        if not 1 <= index <= len(urls):
            reader.problems.append(f"COMFYUI_AUTH_{index} has no matching entry in COMFYUI_URLS")

    endpoints: list[Endpoint] = []
    for position, url in enumerate(urls, start=1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            reader.problems.append(
                f"COMFYUI_URLS entry {position} must look like http://host:port or https://host, "
                f"got {parts.scheme + '://' if parts.scheme else ''}{parts.hostname or url.split('@')[-1]!r}"
            )
            continue
        try:
            _ = parts.port
        except ValueError:
            reader.problems.append(f"COMFYUI_URLS entry {position} has an invalid port")
            continue
        auth = BackendAuth()
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        if parts.username is not None:
            auth = BackendAuth(
                "basic", value=Secret(f"{unquote(parts.username)}:{unquote(parts.password or '')}")
            )
        if position in auth_by_index:
            try:
                auth = _parse_auth(auth_by_index[position])
            except ValueError:
                reader.problems.append(
                    f"COMFYUI_AUTH_{position} must be bearer:TOKEN, basic:USER:PASSWORD or header:NAME:VALUE"
                )
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        shown = display_names[position - 1] if position <= len(display_names) else ""
        endpoints.append(
            Endpoint(base_url=base, auth=auth, display_name=shown or default_display_name(position))
        )
    names = [e.base_url for e in endpoints]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        reader.problems.append(f"COMFYUI_URLS lists {dup} more than once")
    return tuple(endpoints)


def _parse_display_names(reader: _Reader, backends: int) -> list[str]:
    """COMFYUI_NAMES: one valid, distinct name per URL; [] when unset (every backend gets its default)."""
    text = reader.raw("COMFYUI_NAMES")
    if not text:
        return []
    # Runs of whitespace (tabs, no-break spaces) read as one space in Discord anyway.
    names = [" ".join(part.split()) for part in text.split(",")]
    if len(names) != backends:
        reader.problems.append(
            f"COMFYUI_NAMES has {len(names)} name(s) for {backends} URL(s) in COMFYUI_URLS; "
            "give one name per URL, in the same order"
        )
    for position, name in enumerate(names, start=1):
        problem = display_name_problem(name)
        if problem:
            reader.problems.append(f"COMFYUI_NAMES entry {position} ({name!r}) {problem}")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        first = seen.setdefault(name.casefold(), position)
        if first != position and name:
            reader.problems.append(
                f"COMFYUI_NAMES entries {first} and {position} are both {name!r}; "
                "members could not tell the backends apart"
            )
    return names


def load_settings(env: Mapping[str, str], *, require_discord: bool = True) -> Settings:
    """Build Settings from ``env``; raise ConfigError listing every problem."""
    r = _Reader(env)
    token = r.raw("DISCORD_TOKEN")
    if require_discord and not token:
        r.problems.append("DISCORD_TOKEN is required to run the bot (see .env.example)")
    elif token and (len(token) < 50 or token.count(".") != 2):
        r.problems.append("DISCORD_TOKEN does not look like a bot token (three dot-separated parts)")

    log_level = r.raw("LOG_LEVEL").upper()
    if log_level not in _LOG_LEVELS:
        r.problems.append(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
        log_level = "INFO"
    log_format = r.raw("LOG_FORMAT").lower()
    if log_format not in ("text", "json"):
        r.problems.append(f"LOG_FORMAT must be text or json, got {log_format!r}")
        log_format = "text"

    metrics_port = r.parse("METRICS_PORT", _optional_int, None, "a port number")
    if metrics_port is not None and not 1 <= metrics_port <= 65535:
        r.problems.append(f"METRICS_PORT must be between 1 and 65535, got {metrics_port}")
        metrics_port = None

    retention_hours = r.number("RETENTION_HOURS", 24.0, minimum=0)
    audit_days = r.number("AUDIT_RETENTION_DAYS", 90.0, minimum=1)
    if audit_days * 24 < retention_hours:
        # /show reads a job's screening decision from the audit log for as long as its images exist.
        r.problems.append(
            f"AUDIT_RETENTION_DAYS ({audit_days:g}) must cover RETENTION_HOURS ({retention_hours:g} hours): "
            "the audit log holds the screening decisions for stored results"
        )

    settings = Settings(
        discord_token=Secret(token),
        dev_guild_id=r.parse("DEV_GUILD_ID", _optional_int, None, "a Discord guild id"),
        owner_ids=r.parse("OWNER_IDS", _parse_ids, frozenset(), "comma-separated Discord user ids"),
        backends=_parse_backends(r),
        comfyui_timeout=r.number("COMFYUI_TIMEOUT", 30.0, minimum=1),
        max_in_flight=int(r.number("COMFYUI_MAX_IN_FLIGHT", 2, minimum=1, integer=True)),
        data_dir=Path(r.raw("DATA_DIR")),
        workflows_dir=Path(r.raw("WORKFLOWS_DIR")),
        workflow_max_bytes=int(r.number("WORKFLOW_MAX_MB", 4, minimum=0.001, maximum=1024) * 2**20),
        image_max_side=int(r.number("IMAGE_MAX_SIDE", 4096, minimum=64, maximum=65535, integer=True)),
        log_level=log_level,
        log_format=log_format,
        job_max_runtime=r.number("JOB_MAX_RUNTIME", 900.0, minimum=1),
        max_queued_per_user=int(r.number("MAX_QUEUED_PER_USER", 5, minimum=1, integer=True)),
        max_queued_total=int(r.number("MAX_QUEUED_TOTAL", 500, minimum=1, integer=True)),
        retention_hours=retention_hours,
        edit_interval=r.number("EDIT_INTERVAL", 2.0, minimum=0.5),
        live_previews=r.parse("LIVE_PREVIEWS", _parse_bool, True, "true or false"),
        metrics_port=metrics_port,
        metrics_host=r.raw("METRICS_HOST"),
        audit_retention_days=audit_days,
        output_max_bytes=int(r.number("OUTPUT_MAX_MB", 256, minimum=1, maximum=4096) * 2**20),
        media_fit_seconds=r.number("MEDIA_FIT_SECONDS", 120.0, minimum=1),
        workflows_poll_seconds=r.number("WORKFLOWS_POLL_SECONDS", 2.0, minimum=0),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings

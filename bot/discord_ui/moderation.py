"""The moderators' ``/mod`` commands and the members' ``/quota``.

``default_permissions(manage_messages=True)`` only tells Discord whom to show ``/mod`` to, and a
server's admins can change that; so every subcommand also checks ``is_moderator`` against the
member's permissions and the guild's moderator roles, and a subcommand on one job (``/mod cancel``)
asks the one access rule like every moderator button and form (see ``bot.moderation.access``).
Answers are ephemeral; every decision goes to the audit log and, when the guild has one, the
mod-log channel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import discord
from discord import app_commands

from bot.discord_ui.presenter import describe, reply
from bot.discord_ui.render import STATE_WORDS, state_words
from bot.errors import BotError, JobError, JobNotFound
from bot.jobmodel.states import OPEN_STATES, JobState
from bot.jobs.engine import JobEngine
from bot.moderation import (
    SETTINGS,
    AuditAction,
    GuildPolicy,
    ModerationService,
    human_duration,
    is_moderator,
    next_reset,
    parse_duration,
    record_cancel,
    record_purge,
    setting_key,
    utc_day,
)
from bot.moderation.access import MODERATORS_ONLY, Action
from bot.storage import AuditEntry, Ban

if TYPE_CHECKING:
    from bot.discord_ui.controller import Controller

log = logging.getLogger(__name__)

Answer: TypeAlias = str | discord.Embed
NO_PINGS: Final = discord.AllowedMentions.none()
LIST_LIMIT: Final = 20
MODERATOR_CANCEL_REASON: Final = "Cancelled by a moderator."
BAN_CANCEL_REASON: Final = "Cancelled because of a ban."

STATE_FILTERS: Final[dict[str, tuple[JobState, ...]]] = {
    "open": tuple(sorted(OPEN_STATES)),
    "pending_review": (JobState.PENDING_REVIEW,),
    "queued": (JobState.QUEUED,),
    "running": (JobState.DISPATCHED, JobState.RUNNING),
    "done": (JobState.SUCCEEDED, JobState.RELEASED, JobState.DELIVERED),
    "held": (JobState.HELD,),
    "withheld": (JobState.WITHHELD,),
    "failed": (JobState.FAILED,),
    "cancelled": (JobState.CANCELLED,),
    "rejected": (JobState.REJECTED,),
}
ACTION_WORDS: Final = {
    AuditAction.FILTER_BLOCK: "blocked by a filter",
    AuditAction.REVIEW_HOLD: "held for review",
    AuditAction.REVIEW_APPROVE: "approved",
    AuditAction.REVIEW_REJECT: "rejected",
    AuditAction.REVIEW_BAN: "rejected and banned",
    AuditAction.BAN: "ban",
    AuditAction.UNBAN: "unban",
    AuditAction.CANCEL: "cancel",
    AuditAction.PURGE: "purge",
    AuditAction.SETTING_CHANGE: "setting changed",
    AuditAction.OUTPUT_SCREENED: "output screened",
    AuditAction.OUTPUT_RELEASE: "held output released",
    AuditAction.OUTPUT_DISCARD: "held output discarded",
}


class NotModerator(BotError):
    """The member may not moderate this server."""

    def __init__(self) -> None:
        super().__init__(MODERATORS_ONLY)


def moderation_of(controller: Controller) -> ModerationService:
    if controller.moderation is None:
        raise BotError("Moderation is not set up on this bot.")
    return controller.moderation


def role_ids(user: discord.abc.User) -> frozenset[int]:
    return frozenset(r.id for r in getattr(user, "roles", ()))


async def moderator_policy(
    moderation: ModerationService, interaction: discord.Interaction[Any]
) -> GuildPolicy:
    """The guild's policy if the member may moderate it; NotModerator otherwise."""
    if interaction.guild_id is None:
        raise NotModerator()
    policy = await moderation.policy(interaction.guild_id)
    if not is_moderator(interaction.permissions.value, role_ids(interaction.user), policy):
        log.info("guild=%s user=%s refused a moderator action", interaction.guild_id, interaction.user.id)
        raise NotModerator()
    return policy


class ModLog:
    """Posts moderation decisions in the guild's mod-log channel, when it has one; never fails the caller."""

    def __init__(self, client: discord.Client, moderation: ModerationService) -> None:
        self._client = client
        self._moderation = moderation

    async def post(self, guild_id: int | None, text: str) -> None:
        if guild_id is None:
            return
        policy = await self._moderation.policy(guild_id)
        if policy.mod_log_channel is None:
            return
        try:
            channel = self._client.get_partial_messageable(policy.mod_log_channel)
            await channel.send(text[:2000], allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("guild=%s could not post in the mod-log channel: %s", guild_id, exc)


def timestamp(at: float, style: str = "f") -> str:
    """A Discord timestamp every reader sees in their own time zone."""
    return f"<t:{int(at)}:{style}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines_embed(title: str, lines: list[str], *, empty: str, total: int | None = None) -> discord.Embed:
    shown: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > 3900:
            break
        shown.append(line)
        size += len(line) + 1
    more = (total if total is not None else len(lines)) - len(shown)
    if more > 0:
        shown.append(f"… and {more} more")
    return discord.Embed(title=title, description="\n".join(shown) or empty, colour=discord.Colour.blurple())


class ModerationCommands:
    """The handlers behind ``/mod`` and ``/quota`` (the command objects: ``moderation_commands``)."""

    def __init__(self, controller: Controller, client: discord.Client) -> None:
        self.controller = controller
        self.client = client

    @property
    def moderation(self) -> ModerationService:
        return moderation_of(self.controller)

    @property
    def mod_log(self) -> ModLog:
        return ModLog(self.client, self.moderation)

    def now(self) -> float:
        return self.controller.clock()

    async def run(
        self,
        interaction: discord.Interaction[Any],
        handler: Callable[..., Awaitable[Answer]],
        *args: Any,
        moderators_only: bool = True,
    ) -> None:
        """Acknowledge privately, check the member, run ``handler`` and show its answer or the error."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            if moderators_only:
                policy = await moderator_policy(self.moderation, interaction)
            else:
                policy = await self.moderation.policy(interaction.guild_id)
            answer = await handler(interaction, policy, *args)
            if isinstance(answer, discord.Embed):
                await interaction.followup.send(embed=answer, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.followup.send(answer[:2000], ephemeral=True, allowed_mentions=NO_PINGS)
        except Exception as exc:
            await reply(interaction, describe(exc))

    # --- settings ---------------------------------------------------------------------------------

    async def settings_show(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, key: str | None
    ) -> Answer:
        if key:
            setting = setting_key(key)
            value = getattr(policy, setting.name)
            embed = discord.Embed(
                title=f"Setting `{setting.name}`",
                description=_clip(setting.description, 1000),
                colour=discord.Colour.blurple(),
            )
            embed.add_field(name="Value", value=_clip(setting.show(value), 1024), inline=False)
            embed.add_field(name="Default", value=_clip(setting.show(setting.default), 1024), inline=False)
            embed.add_field(name="Accepts", value=_clip(setting.kind.type_name, 1024), inline=False)
            return embed
        embed = discord.Embed(
            title="Moderation settings",
            description="Change one with `/mod settings set`, undo with `/mod settings reset`; "
            "`/mod settings show key` explains one.",
            colour=discord.Colour.blurple(),
        )
        for name, setting in SETTINGS.items():
            value = getattr(policy, name)
            changed = " (changed)" if value != setting.default else ""
            embed.add_field(name=f"{name}{changed}", value=_clip(setting.show(value), 200), inline=False)
        return embed

    async def settings_set(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, key: str, value: str
    ) -> Answer:
        guild_id = _guild(interaction)
        change = await self.moderation.change_setting(guild_id, key, value, moderator_id=interaction.user.id)
        if not change.changed:
            return f"`{change.key}` was already {change.new_text}."
        await self.mod_log.post(
            guild_id,
            f"⚙️ {interaction.user.mention} set `{change.key}`: {change.old_text} → {change.new_text}",
        )
        text = f"`{change.key}`: {change.old_text} → {change.new_text}"
        return text + self._channel_warning(interaction, change.key, change.new)

    async def settings_reset(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, key: str
    ) -> Answer:
        guild_id = _guild(interaction)
        change = await self.moderation.reset_setting(guild_id, key, moderator_id=interaction.user.id)
        if not change.changed:
            return f"`{change.key}` already has its default value ({change.new_text})."
        await self.mod_log.post(
            guild_id,
            f"⚙️ {interaction.user.mention} reset `{change.key}`: {change.old_text} → {change.new_text}",
        )
        return f"`{change.key}` is back to its default: {change.new_text} (was {change.old_text})."

    async def terms_add(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, key: str, text: str
    ) -> Answer:
        guild_id = _guild(interaction)
        change = await self.moderation.add_terms(guild_id, key, text, moderator_id=interaction.user.id)
        added = _terms_text([t for t in change.new if t not in change.old])
        if not change.changed:
            return f"`{change.key}` already has those terms."
        await self.mod_log.post(guild_id, f"⚙️ {interaction.user.mention} added to `{change.key}`: {added}")
        return f"Added to `{change.key}`: {added}. It has {len(change.new)} term(s) now."

    async def terms_remove(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, key: str, text: str
    ) -> Answer:
        guild_id = _guild(interaction)
        change = await self.moderation.remove_terms(guild_id, key, text, moderator_id=interaction.user.id)
        removed = _terms_text([t for t in change.old if t not in change.new])
        await self.mod_log.post(
            guild_id, f"⚙️ {interaction.user.mention} removed from `{change.key}`: {removed}"
        )
        return f"Removed from `{change.key}`: {removed}. It has {len(change.new)} term(s) now."

    def _channel_warning(self, interaction: discord.Interaction[Any], key: str, value: Any) -> str:
        if key not in ("review_channel", "mod_log_channel") or value is None or interaction.guild is None:
            return ""
        if interaction.guild.get_channel_or_thread(value) is None:
            return f"\n⚠️ I can't see <#{value}> in this server; check the id and my permissions there."
        return ""

    async def complete_key(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().casefold().replace("-", "_").replace(" ", "_")
        names = [name for name in SETTINGS if needle in name]
        return [app_commands.Choice(name=name, value=name) for name in names[:25]]

    # --- bans -------------------------------------------------------------------------------------

    async def ban(
        self,
        interaction: discord.Interaction[Any],
        policy: GuildPolicy,
        user: discord.abc.User,
        duration: str | None,
        reason: str | None,
    ) -> Answer:
        guild_id = _guild(interaction)
        if user.id == interaction.user.id:
            raise BotError("You can't ban yourself.")
        if user.bot:
            raise BotError("Bots can't use the image commands anyway; there is nothing to ban.")
        seconds = parse_duration(duration)
        until = None if seconds is None else self.now() + seconds
        ban = await self.moderation.ban(
            guild_id, user.id, moderator_id=interaction.user.id, reason=(reason or "").strip(), until=until
        )
        cancelled = await cancel_open_jobs(
            self.controller.engine,
            self.moderation,
            guild_id,
            user.id,
            moderator_id=interaction.user.id,
            reason=BAN_CANCEL_REASON,
        )
        length = _ban_length(ban, self.now())
        why = f" Reason: {ban.reason}" if ban.reason else ""
        await self.mod_log.post(
            guild_id,
            f"🔨 {interaction.user.mention} banned {user.mention} {length}.{why}"
            + (f" {len(cancelled)} open job(s) cancelled." if cancelled else ""),
        )
        jobs = f" Cancelled {len(cancelled)} of their open job(s)." if cancelled else ""
        return f"Banned {user.mention} {length}.{why}{jobs}"

    async def unban(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, user: discord.abc.User
    ) -> Answer:
        guild_id = _guild(interaction)
        if not await self.moderation.unban(guild_id, user.id, moderator_id=interaction.user.id):
            return f"{user.mention} is not banned here."
        await self.mod_log.post(guild_id, f"🕊️ {interaction.user.mention} lifted the ban of {user.mention}.")
        return f"Lifted the ban of {user.mention}."

    async def bans(self, interaction: discord.Interaction[Any], policy: GuildPolicy) -> Answer:
        active = await self.moderation.bans.list_active(_guild(interaction))
        now = self.now()
        lines = []
        for ban in active:
            by = f" by <@{ban.moderator_id}>" if ban.moderator_id else ""
            why = f" — {_clip(ban.reason, 100)}" if ban.reason else ""
            lines.append(f"<@{ban.user_id}> {_ban_length(ban, now)}{by}{why}")
        return _lines_embed("Active bans", lines, empty="Nobody is banned here.")

    # --- the audit log ------------------------------------------------------------------------------

    async def audit_log(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, user: discord.abc.User | None
    ) -> Answer:
        guild_id = _guild(interaction)
        entries = await self.moderation.audit.recent(guild_id=guild_id, limit=500 if user else LIST_LIMIT)
        if user is not None:
            entries = [e for e in entries if user.id in (e.actor_id, e.target_id)]
        lines = [describe_entry(e) for e in entries[:LIST_LIMIT]]
        title = f"Recent moderation log{' for ' + user.display_name if user else ''}"
        return _lines_embed(title, lines, empty="Nothing recorded yet.", total=len(entries))

    # --- jobs ---------------------------------------------------------------------------------------

    async def queue(
        self,
        interaction: discord.Interaction[Any],
        policy: GuildPolicy,
        user: discord.abc.User | None,
        state: str | None,
    ) -> Answer:
        states = STATE_FILTERS[state or "open"]
        engine = self.controller.engine
        jobs = await engine.jobs.list_for_guild(
            _guild(interaction), states=states, user_id=user.id if user else None, limit=200
        )
        lines = []
        for job in jobs[:LIST_LIMIT]:
            # Moderators read display names too: they run a community, not the GPU machines.
            where = state_words(job, engine.pool.display_name(job.backend))
            place = engine.position(job.id)
            if place is not None:
                where = f"queued, position {place[0] + 1}"
            lines.append(
                f"`{job.id}` /{job.template} by <@{job.user_id}> — {where} — {timestamp(job.created_at, 'R')}"
            )
        label = state or "open"
        whose = f" of {user.display_name}" if user else ""
        return _lines_embed(f"Jobs{whose} ({label})", lines, empty="No jobs match.", total=len(jobs))

    async def cancel(self, interaction: discord.Interaction[Any], policy: GuildPolicy, job_id: str) -> Answer:
        guild_id = _guild(interaction)
        job = await self.controller.engine.jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"There is no job `{job_id.strip()[:20]}` in this server.")
        await self.controller.access.require(interaction, job, Action.MODERATE)
        cancelled = await self.controller.engine.cancel(job.id, reason=MODERATOR_CANCEL_REASON)
        await record_cancel(
            self.moderation.audit,
            guild_id=guild_id,
            actor_id=interaction.user.id,
            owner_id=job.user_id,
            job_id=job.id,
            reason=MODERATOR_CANCEL_REASON,
        )
        await self.mod_log.post(
            guild_id, f"✖️ {interaction.user.mention} cancelled job `{job.id}` of <@{job.user_id}>."
        )
        return f"Cancelled job `{cancelled.id}` (/{job.template} by <@{job.user_id}>)."

    async def purge(
        self, interaction: discord.Interaction[Any], policy: GuildPolicy, user: discord.abc.User
    ) -> Answer:
        guild_id = _guild(interaction)
        cancelled = await cancel_open_jobs(
            self.controller.engine,
            self.moderation,
            guild_id,
            user.id,
            moderator_id=interaction.user.id,
            reason=MODERATOR_CANCEL_REASON,
        )
        if not cancelled:
            return f"{user.mention} has no open jobs here."
        await self.mod_log.post(
            guild_id,
            f"🧹 {interaction.user.mention} cancelled {len(cancelled)} open job(s) of {user.mention}.",
        )
        return f"Cancelled {len(cancelled)} open job(s) of {user.mention}: " + ", ".join(
            f"`{j}`" for j in cancelled
        )

    async def stats(self, interaction: discord.Interaction[Any], policy: GuildPolicy) -> Answer:
        guild_id = _guild(interaction)
        engine = self.controller.engine
        counts = await engine.jobs.count_by_state(guild_id=guild_id)
        usage = await self.moderation.quotas.guild_usage(guild_id, utc_day(self.now()))
        bans = await self.moderation.bans.list_active(guild_id)
        embed = discord.Embed(title="Bot statistics", colour=discord.Colour.blurple())
        by_state = ", ".join(f"{STATE_WORDS[s]}: {counts[s]}" for s in JobState if counts.get(s))
        embed.add_field(name="Jobs in this server", value=by_state or "none yet", inline=False)
        running = sum(len(b.in_flight) for b in engine.pool.backends)
        embed.add_field(
            name="Queue (all servers)",
            value=f"{len(engine.scheduler)} waiting, {running} running",
            inline=False,
        )
        backends = [
            f"{'🟢' if b.healthy else '🔴'} **{b.display_name}**: {len(b.in_flight)}/{b.capacity} in flight, "
            f"{len(b.capable)} template(s)"
            for b in engine.pool.backends
        ]
        embed.add_field(
            name="Image servers", value=_clip("\n".join(backends) or "none configured", 1024), inline=False
        )
        embed.add_field(
            name="Today (UTC)",
            value=f"{usage.jobs} job(s), {usage.gpu_seconds:.0f} GPU seconds",
            inline=False,
        )
        embed.add_field(name="Active bans", value=str(len(bans)), inline=False)
        return embed

    # --- members ------------------------------------------------------------------------------------

    async def quota(self, interaction: discord.Interaction[Any], policy: GuildPolicy) -> Answer:
        guild_id = _guild(interaction)
        user = interaction.user
        now = self.now()
        moderation = self.moderation
        lines: list[str] = []
        ban = await moderation.bans.active_ban(guild_id, user.id)
        if ban is not None and ban.active_at(now):
            lines.append(f"⛔ You are banned from using the bot here {_ban_length(ban, now)}.")
        if policy.moderators_exempt and is_moderator(interaction.permissions.value, role_ids(user), policy):
            lines.append("As a moderator you are exempt from these limits.")
        limits = policy.limits_for(role_ids(user))
        usage = await moderation.quotas.get_usage(guild_id, user.id, utc_day(now))
        reset = f"resets at 00:00 UTC, in {human_duration(next_reset(now) - now)}"
        if limits.daily_jobs:
            left = max(0, limits.daily_jobs - usage.jobs)
            lines.append(f"**Jobs today:** {left} of {limits.daily_jobs} left ({reset})")
        else:
            lines.append(f"**Jobs today:** {usage.jobs} used, no daily limit")
        if limits.daily_gpu_seconds:
            left_gpu = max(0.0, limits.daily_gpu_seconds - usage.gpu_seconds)
            lines.append(
                f"**GPU time today:** {left_gpu:.0f} of {limits.daily_gpu_seconds} seconds left ({reset})"
            )
        else:
            lines.append(f"**GPU time today:** {usage.gpu_seconds:.0f} seconds used, no daily limit")
        engine = self.controller.engine
        waiting = await engine.jobs.count_waiting(user_id=user.id)
        slots = [n for n in (limits.max_queued, engine.limits.max_queued_per_user) if n]
        if slots:
            lines.append(f"**Queue:** {waiting} of {min(slots)} slots in use")
        else:
            lines.append(f"**Queue:** {waiting} job(s) waiting or running, no limit")
        recent = await engine.jobs.recent_for_user(user.id, limit=1)
        if limits.cooldown_seconds:
            wait = (recent[0].created_at + limits.cooldown_seconds - now) if recent else 0.0
            ready = f"wait {human_duration(wait)}" if wait > 0 else "ready"
            lines.append(f"**Cooldown:** {ready} ({limits.cooldown_seconds} s between requests)")
        else:
            lines.append("**Cooldown:** none")
        if limits.lane != "default":
            lines.append(f"**Lane:** {limits.lane}")
        return discord.Embed(
            title="Your limits", description="\n".join(lines), colour=discord.Colour.blurple()
        )


async def cancel_open_jobs(
    engine: JobEngine,
    moderation: ModerationService,
    guild_id: int,
    user_id: int,
    *,
    moderator_id: int,
    reason: str,
) -> list[str]:
    """Cancel every open job of a member in one guild, recorded as one purge; the ids cancelled."""
    cancelled: list[str] = []
    for job in await engine.jobs.list_for_guild(guild_id, states=OPEN_STATES, user_id=user_id):
        try:
            await engine.cancel(job.id, reason=reason)
        except JobError as exc:  # it ended meanwhile
            log.info("job=%s not cancelled: %s", job.id, exc)
            continue
        cancelled.append(job.id)
    if cancelled:
        await record_purge(
            moderation.audit, guild_id=guild_id, moderator_id=moderator_id, job_ids=cancelled, user_id=user_id
        )
    return cancelled


def describe_entry(entry: AuditEntry) -> str:
    """One audit entry as a line for moderators."""
    action = ACTION_WORDS.get(entry.action, entry.action)  # type: ignore[call-overload]
    parts = [timestamp(entry.at, "R"), f"**{action}**"]
    if entry.actor_id and entry.actor_id != entry.target_id:
        parts.append(f"by <@{entry.actor_id}>")
    if entry.target_id:
        parts.append(f"→ <@{entry.target_id}>")
    if entry.job_id:
        parts.append(f"job `{entry.job_id}`")
    details = _details(entry)
    if details:
        parts.append(f"— {details}")
    return _clip(" ".join(parts), 300)


def _details(entry: AuditEntry) -> str:
    d = entry.details
    match entry.action:
        case AuditAction.FILTER_BLOCK | AuditAction.REVIEW_HOLD:
            shown = [
                f"{d['param']}" if d.get("param") else "",
                f"matched {d['term']}" if d.get("term") else "",
            ]
            rule = f"rule {d['rule']}" if d.get("rule") else ""
            return ", ".join(p for p in (rule, *shown) if p)
        case AuditAction.SETTING_CHANGE:
            return f"`{d.get('key')}`: {d.get('old')} → {d.get('new')}"
        case AuditAction.BAN:
            until = d.get("until")
            length = f"until {timestamp(until)}" if isinstance(until, int | float) else "until lifted"
            return length + (f", {d['reason']}" if d.get("reason") else "")
        case AuditAction.PURGE:
            return f"{d.get('count', 0)} job(s)"
        case AuditAction.OUTPUT_SCREENED:
            return f"{d.get('action')} (score {d.get('score')})"
        case _:
            return str(d.get("reason", ""))


def _terms_text(terms: list[str]) -> str:
    return _clip(", ".join(f"`{t}`" for t in terms), 1500)


def _ban_length(ban: Ban, now: float) -> str:
    if ban.until is None:
        return "until a moderator lifts it"
    return f"until {timestamp(ban.until)} ({human_duration(ban.until - now)} from now)"


def _guild(interaction: discord.Interaction[Any]) -> int:
    if interaction.guild_id is None:
        raise BotError("This only works in a server.")
    return interaction.guild_id


def _state_choices() -> list[app_commands.Choice[str]]:
    names = {
        "pending_review": "waiting for review",
        "open": "open (waiting or running)",
        "held": "results held for a moderator",
        "withheld": "results withheld",
    }
    return [app_commands.Choice(name=names.get(key, key), value=key) for key in STATE_FILTERS]


def moderation_commands(
    controller: Controller, client: discord.Client
) -> Iterable[app_commands.Group | app_commands.Command[Any, Any, Any]]:
    """The ``/mod`` group and ``/quota``."""
    handlers = ModerationCommands(controller, client)
    run = handlers.run
    mod = app_commands.Group(
        name="mod",
        description="Moderator tools: settings, bans, the queue and the audit log",
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )
    settings = app_commands.Group(
        name="settings", description="Show and change this server's moderation settings", parent=mod
    )

    @settings.command(name="show", description="All moderation settings, or one explained in full")
    @app_commands.describe(key="The setting to explain (default: list them all)")
    @app_commands.autocomplete(key=handlers.complete_key)
    async def settings_show(interaction: discord.Interaction[Any], key: str | None = None) -> None:
        await run(interaction, handlers.settings_show, key)

    @settings.command(name="set", description="Change a moderation setting")
    @app_commands.describe(key="The setting", value="The new value (see /mod settings show key)")
    @app_commands.autocomplete(key=handlers.complete_key)
    async def settings_set(
        interaction: discord.Interaction[Any], key: str, value: app_commands.Range[str, 1, 4000]
    ) -> None:
        await run(interaction, handlers.settings_set, key, value)

    @settings.command(name="reset", description="Put a moderation setting back to its default")
    @app_commands.describe(key="The setting")
    @app_commands.autocomplete(key=handlers.complete_key)
    async def settings_reset(interaction: discord.Interaction[Any], key: str) -> None:
        await run(interaction, handlers.settings_reset, key)

    terms = app_commands.Group(
        name="terms", description="Add or remove filter terms without retyping the whole list", parent=mod
    )
    term_lists = [
        app_commands.Choice(name="blocked_terms (refused)", value="blocked_terms"),
        app_commands.Choice(name="review_terms (a moderator looks first)", value="review_terms"),
    ]
    terms_help = "Separated by commas or new lines: word, wild*card, a phrase, re:regex"

    @terms.command(name="add", description="Add terms to the blocked or the review list")
    @app_commands.rename(which="list", text="terms")
    @app_commands.describe(which="The list", text=terms_help)
    @app_commands.choices(which=term_lists)
    async def terms_add(
        interaction: discord.Interaction[Any], which: str, text: app_commands.Range[str, 1, 4000]
    ) -> None:
        await run(interaction, handlers.terms_add, which, text)

    @terms.command(name="remove", description="Remove terms from the blocked or the review list")
    @app_commands.rename(which="list", text="terms")
    @app_commands.describe(which="The list", text="The terms as they are in the list, separated by commas")
    @app_commands.choices(which=term_lists)
    async def terms_remove(
        interaction: discord.Interaction[Any], which: str, text: app_commands.Range[str, 1, 4000]
    ) -> None:
        await run(interaction, handlers.terms_remove, which, text)

    @mod.command(name="ban", description="Stop a member from using the bot here, and cancel their jobs")
    @app_commands.describe(
        user="The member",
        duration="How long, e.g. 30m, 12h, 7d (default: until lifted)",
        reason="Shown to the member",
    )
    async def ban(
        interaction: discord.Interaction[Any],
        user: discord.User,
        duration: str | None = None,
        reason: app_commands.Range[str, 0, 300] | None = None,
    ) -> None:
        await run(interaction, handlers.ban, user, duration, reason)

    @mod.command(name="unban", description="Lift a member's ban")
    @app_commands.describe(user="The member")
    async def unban(interaction: discord.Interaction[Any], user: discord.User) -> None:
        await run(interaction, handlers.unban, user)

    @mod.command(name="bans", description="Members banned from using the bot here")
    async def bans(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, handlers.bans)

    @mod.command(name="log", description="Recent moderation audit entries")
    @app_commands.describe(user="Only entries by or about this member")
    async def audit_log(interaction: discord.Interaction[Any], user: discord.User | None = None) -> None:
        await run(interaction, handlers.audit_log, user)

    @mod.command(name="queue", description="Everyone's jobs in this server, filtered by member and state")
    @app_commands.describe(user="Only this member's jobs", state="Which jobs (default: open)")
    @app_commands.choices(state=_state_choices())
    async def queue(
        interaction: discord.Interaction[Any], user: discord.User | None = None, state: str | None = None
    ) -> None:
        await run(interaction, handlers.queue, user, state)

    @mod.command(name="cancel", description="Cancel anyone's job")
    @app_commands.describe(job="The job id")
    async def cancel(interaction: discord.Interaction[Any], job: str) -> None:
        await run(interaction, handlers.cancel, job)

    @mod.command(name="purge", description="Cancel all of a member's open jobs")
    @app_commands.describe(user="The member")
    async def purge(interaction: discord.Interaction[Any], user: discord.User) -> None:
        await run(interaction, handlers.purge, user)

    @mod.command(name="stats", description="Jobs by state, image servers and today's usage")
    async def stats(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, handlers.stats)

    @app_commands.command(name="quota", description="What you can still run today")
    @app_commands.guild_only()
    async def quota(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, handlers.quota, moderators_only=False)

    return [mod, quota]

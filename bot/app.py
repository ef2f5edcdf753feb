"""The one composition root: creates the session, database, backends, engine and Discord client,
wires them, and shuts them down in order on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from bot.comfy import ComfyClient
from bot.config import Settings
from bot.discord_ui.access import TemplateAccess
from bot.discord_ui.client import ComfyBot
from bot.discord_ui.controller import Controller, FrontEndOptions
from bot.discord_ui.intake import Intake
from bot.discord_ui.publisher import Publisher
from bot.discord_ui.results import ResultButtons, result_buttons
from bot.discord_ui.review import ReviewDesk
from bot.discord_ui.status import TOKEN_SAFE_SECONDS, StatusMessages
from bot.discord_ui.template_admin import TemplateCommands
from bot.discord_ui.throttle import EditThrottle
from bot.jobmodel.model import Job
from bot.jobs.backends import BackendPool
from bot.jobs.engine import EngineLimits, JobEngine
from bot.jobs.template_manager import TemplateManager
from bot.jobs.template_planner import TemplatePlanner
from bot.media.fitter import MediaFitter
from bot.moderation import ModerationMaintenance, ModerationService, Retention, load_screener
from bot.observability import Metrics, discord_trace, metrics_server_for
from bot.storage import (
    BackendClientRepository,
    Database,
    IntakeRepository,
    MetaRepository,
    Spool,
    TemplateManagerRepository,
    TemplateVersionRepository,
)
from bot.supervisor import RestartPolicy, Supervisor
from bot.templates import Param, Template, merged_backend_options
from bot.templates.folder import WorkflowFolder
from bot.templates.library import TemplateLibrary

log = logging.getLogger(__name__)
DEFAULT_FILE_LIMIT = 10 * 1024 * 1024


class App:
    """Everything the bot runs, started and stopped as one. Tests build several on one DATA_DIR."""

    def __init__(
        self,
        settings: Settings,
        *,
        token_seconds: float = TOKEN_SAFE_SECONDS,
        clock: Callable[[], float] = time.time,
        restart_policy: RestartPolicy | None = None,
        **client_options: Any,
    ) -> None:
        """``token_seconds``: how long an interaction token is used before editing through the channel
        (Discord's 15 minutes less a margin; tests shorten it). ``clock``: wall-clock time for the
        database, the engine and moderation (tests move it, e.g. across the UTC day for quotas).
        ``restart_policy``: how crashed background loops come back (tests shorten it).
        ``client_options`` go to discord.py."""
        self.settings = settings
        self._token_seconds = token_seconds
        self._clock = clock
        self._client_options = client_options
        self._stack = AsyncExitStack()
        self.bot: ComfyBot | None = None
        self.engine: JobEngine | None = None
        self.publisher: Publisher | None = None
        self.metrics: Metrics | None = None
        self.maintenance: ModerationMaintenance | None = None
        self.templates: TemplateManager | None = None
        """The live templates: the watched workflows folder and the owners' operations on it."""
        self._bot_task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        self._restart_policy = restart_policy
        self.frontend = Supervisor(policy=restart_policy, on_fatal=self._fatal)
        """Owns the Discord side's background work (status publisher, review desk, command recovery)."""
        self.fatal: str | None = None
        """Why the App must stop (a background loop kept crashing); set once, with ``stopping``."""
        self.stopping = asyncio.Event()
        self._db: Database | None = None

    async def start(self) -> None:
        """Open resources, recover jobs, connect to Discord; returns once the client is logging in."""
        self._started_at = self._clock()
        s = self.settings
        stack = self._stack
        library = TemplateLibrary()
        session = await stack.enter_async_context(aiohttp.ClientSession())
        s.data_dir.mkdir(parents=True, exist_ok=True)
        db = await stack.enter_async_context(await Database.open_in(s.data_dir, clock=self._clock))
        self._db = db
        client_ids = BackendClientRepository(db)
        clients = [
            ComfyClient(
                session,
                e,
                client_id=await client_ids.get_or_create(e.base_url),
                timeout=s.comfyui_timeout,
                max_output_bytes=s.output_max_bytes,
            )
            for e in s.backends
        ]
        planner = TemplatePlanner(library)
        pool = BackendPool(clients, capacity=s.max_in_flight, capability_check=planner.capabilities)
        # Metrics count moderation's decisions from the audit trail; templates share that trail.
        metrics = Metrics()
        self.metrics = metrics
        moderation = ModerationService(db, counters=metrics)
        manager = TemplateManager(
            WorkflowFolder(s.workflows_dir, max_file_bytes=s.workflow_max_bytes),
            library,
            TemplateVersionRepository(db),
            moderation.audit,
            pool=pool,
            poll_interval=s.workflows_poll_seconds,
        )
        self.templates = manager
        await manager.start()
        log.info("loaded %d template(s): %s", len(library), ", ".join(library.names))
        engine = JobEngine(
            db,
            pool,
            planner,
            Spool.in_data_dir(s.data_dir),
            limits=EngineLimits(
                max_queued_per_user=s.max_queued_per_user,
                max_queued_total=s.max_queued_total,
                max_runtime=s.job_max_runtime,
                retention_seconds=s.retention_hours * 3600,
            ),
            clock=self._clock,
            on_fatal=self._fatal,
            restart_policy=self._restart_policy,
        )
        self.engine = engine

        def autocomplete(template: Template, param: Param, current: str) -> list[str]:
            infos = {b.name: b.object_info for b in pool.backends if b.object_info is not None}
            return list(merged_backend_options(template, param, infos.values()))

        # Discord's requests and rate limits are counted from the client's own HTTP session.
        bot = ComfyBot(
            meta=MetaRepository(db),
            dev_guild_id=s.dev_guild_id,
            owner_ids=s.owner_ids,
            autocomplete=autocomplete,
            http_trace=discord_trace(metrics),
            clock=self._clock,
            **self._client_options,
        )
        self.bot = bot
        throttle = EditThrottle(interval=s.edit_interval)
        messages = StatusMessages(
            bot, engine, token_seconds=self._token_seconds, on_edit=throttle.touch, pace=throttle.reserve
        )

        def file_limit(job: Job) -> int:
            # What the channel's last interaction said (it knows boosts and Discord's current rules);
            # else the guild's premium tier; else Discord's default.
            known = messages.upload_limit(job.channel_id)
            if known is not None:
                return known
            guild = bot.get_guild(job.guild_id) if job.guild_id else None
            return guild.filesize_limit if guild is not None else DEFAULT_FILE_LIMIT

        def buttons_for(name: str) -> ResultButtons:
            return result_buttons(library.get(name))

        # Re-encoding results to fit upload limits runs in its own worker thread, each file on a clock.
        fitter = MediaFitter(time_limit=s.media_fit_seconds)
        stack.callback(fitter.close)

        screener, screening = await asyncio.to_thread(load_screener)
        log.info("%s", screening)
        maintenance = ModerationMaintenance(
            moderation, Retention(audit_days=s.audit_retention_days), clock=self._clock
        )
        self.maintenance = maintenance
        review = ReviewDesk(bot, engine, moderation, screener=screener, fitter=fitter, clock=self._clock)
        publisher = Publisher(
            engine,
            messages,
            throttle,
            buttons_for=buttons_for,
            file_limit=file_limit,
            fitter=fitter,
            previews=s.live_previews,
            screen=None if screener is None else review.screen,
        )
        self.publisher = publisher
        engine.set_sink(publisher)
        intake = Intake(IntakeRepository(db), clock=self._clock, max_image_side=s.image_max_side)
        bot.controller = Controller(
            engine,
            library,
            messages,
            moderation,
            FrontEndOptions(max_image_side=s.image_max_side),
            review=review,
            intake=intake,
            fitter=fitter,
            clock=self._clock,
        )
        bot.template_admin = TemplateCommands(
            bot.controller,
            manager,
            TemplateAccess(TemplateManagerRepository(db), moderation, bot.is_owner),
        )
        manager.add_listener(bot.templates_reloaded)
        manager.add_listener(bot.owner_notices.templates_reloaded)
        await bot.owner_notices.templates_reloaded(manager.first_load)

        metrics.attach(engine)
        stack.push_async_callback(metrics.close)
        server = metrics_server_for(
            s,
            metrics,
            pool=pool,
            gateway_connected=lambda: bot.is_ready() and not bot.is_closed(),
            checks=self.health,
        )
        if server is not None:
            await server.start()
            stack.push_async_callback(server.stop)

        await pool.start()
        stack.push_async_callback(pool.close)
        await engine.start()
        stack.push_async_callback(engine.close)
        for channel_id in engine.recovered_channels:
            throttle.carry_over(channel_id)
        publisher.start(self.frontend)
        review.start(self.frontend)
        stack.push_async_callback(throttle.close)
        stack.push_async_callback(publisher.close)
        stack.push_async_callback(review.close)
        self.frontend.loop("moderation-maintenance", maintenance.run, critical=False)
        self.frontend.loop("template-watch", manager.run, critical=False)
        self.frontend.loop("command-sync", bot.command_sync.run, critical=False)
        self.frontend.loop("owner-notices", bot.owner_notices.run, critical=False)
        stack.push_async_callback(self.frontend.close)
        self._bot_task = asyncio.create_task(bot.start(s.discord_token.reveal()), name="discord")
        stack.push_async_callback(self._stop_bot)
        self.frontend.spawn(self._recover_commands(intake), name="intake-recovery")

    async def health(self, *, database_timeout: float = 2.0) -> list[str]:
        """What is wrong inside the bot: a background loop that is down, a database that does not answer."""
        problems = [*(self.engine.problems() if self.engine else []), *self.frontend.problems()]
        if self._db is not None:
            try:
                async with asyncio.timeout(database_timeout):
                    await self._db.fetch_one("SELECT 1")
            except Exception as exc:
                problems.append(f"database not answering ({type(exc).__name__})")
        return problems

    def _fatal(self, reason: str) -> None:
        """A background loop kept crashing: stop the process rather than run half alive."""
        if self.fatal is None:
            self.fatal = reason
            log.critical("stopping: %s", reason)
        self.stopping.set()

    async def _recover_commands(self, intake: Intake) -> None:
        """Once connected, finish the commands a previous process acknowledged but did not queue."""
        assert self.bot is not None
        while not self.bot.is_ready():  # noqa: ASYNC110 - wait_until_ready() refuses to run before login
            await asyncio.sleep(0.05)
        try:
            await intake.recover(self.bot, self.bot.controller, before=self._started_at)
        except Exception:
            log.exception("recovering interrupted commands failed")

    async def _stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._bot_task

    async def wait(self) -> None:
        """Until the Discord client stops (it raises if login failed)."""
        if self._bot_task is not None:
            await self._bot_task

    async def stop(self) -> None:
        """Stop taking work, close Discord, let in-flight state rest in the database, close sockets."""
        await self._stack.aclose()


async def serve(settings: Settings) -> int:
    """Run the bot until SIGTERM/Ctrl-C (exit code 0) or until it cannot go on (1)."""
    app = App(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, app.stopping.set)
    await app.start()
    try:
        waiter = asyncio.create_task(app.stopping.wait())
        done, _ = await asyncio.wait(
            {waiter, asyncio.ensure_future(app.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        log.info("shutting down")
        await app.stop()
    return 1 if app.fatal else 0


def run_bot(settings: Settings) -> int:
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        log.error("the bot stopped: %s", exc)
        return 1
    return 0

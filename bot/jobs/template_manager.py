"""Templates, live: the workflows folder watched and reloaded without a restart, and the owners'
operations on it (add, edit, publish, retire, restore), each validated before anything changes.

One lock orders everything that reads or writes the folder (the poller's reload and each operation),
so the poller never sees an operation half done. A reload builds the new catalog aside, then swaps it
in at once; a file that broke keeps its last good version (``bot.templates.catalog``). Every version
loaded is recorded in the database (what a job of an older version needs after a restart, and what
``restore`` puts back), and every change goes to the audit log with the files' hashes.

Watching is polling: one directory listing per area and its stat data every ``poll_interval`` seconds
(no new dependency, works on every filesystem, including network and container mounts where inotify
is silent). A change is acted on once the listing is the same on two looks in a row, so a file still
being copied in is not loaded half written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from bot.errors import BotError, ComfyError, InvalidInput, TemplateError
from bot.jobs.backends import Backend, BackendPool
from bot.storage import AuditRepository, StoredVersion, TemplateVersionRepository
from bot.templates.catalog import Catalog, Entry, Key, build_catalog
from bot.templates.discord_rules import sanitize_command_name
from bot.templates.folder import Area, Fingerprint, FolderRead, StemRead, WorkflowFolder
from bot.templates.library import TemplateLibrary
from bot.templates.loader import TemplateFiles, decode_upload
from bot.templates.model import Capability, Problem, Template
from bot.templates.preflight import preflight
from bot.templates.versions import file_hash

log = logging.getLogger(__name__)

KEEP_VERSIONS: Final = 10
"""Versions of each template kept in the history for ``restore`` (open jobs' versions are kept too)."""
MAX_LISTED_PROBLEMS: Final = 15


class TemplateAudit(StrEnum):
    """The ``action`` of template entries in the audit log."""

    ADD = "template.add"
    EDIT = "template.edit"
    PUBLISH = "template.publish"
    RETIRE = "template.retire"
    RESTORE = "template.restore"
    TRY = "template.try"
    FOLDER = "template.folder"
    """Files changed on disk (by someone with a shell) and were loaded."""
    BROKEN = "template.broken"
    ALLOW = "template.allow"
    DISALLOW = "template.disallow"


@dataclass(frozen=True, slots=True)
class TemplateChange:
    """One template's state before and after a reload: (area, version), None where it had none."""

    name: str
    before: tuple[Area, str] | None
    after: tuple[Area, str] | None

    @property
    def command_changed(self) -> bool:
        """Whether the slash command may look different now (it appeared, went, or its version moved)."""
        was = self.before is not None and self.before[0] is Area.PUBLISHED
        now = self.after is not None and self.after[0] is Area.PUBLISHED
        return was != now or (now and self.before != self.after)


@dataclass(frozen=True, slots=True)
class Reload:
    """What one reload changed, and what went wrong or right with the files since the last one."""

    changes: tuple[TemplateChange, ...] = ()
    new_problems: tuple[Problem, ...] = ()
    fixed_problems: tuple[Problem, ...] = ()
    kept: tuple[str, ...] = ()
    """Templates whose files are broken now and which keep running their last good version."""
    problems: tuple[Problem, ...] = ()
    """Every problem of the folder now (told or not)."""
    initial: bool = False

    @property
    def commands_changed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.changes if c.command_changed)


@dataclass(frozen=True, slots=True)
class BackendCheck:
    """One backend's verdict on templates; ``error`` when it could not be asked."""

    name: str
    capabilities: tuple[Capability, ...] = ()
    error: str | None = None


Listener = Callable[[Reload], Awaitable[None]]


class TemplateManager:
    """Owns the live templates: the folder, the library the engine plans from, and their history."""

    def __init__(
        self,
        folder: WorkflowFolder,
        library: TemplateLibrary,
        versions: TemplateVersionRepository,
        audit: AuditRepository,
        *,
        pool: BackendPool | None = None,
        poll_interval: float = 2.0,
        keep_versions: int = KEEP_VERSIONS,
    ) -> None:
        """``poll_interval``: seconds between two looks at the folder (0: only on demand)."""
        self.folder = folder
        self.library = library
        self.versions = versions
        self.audit = audit
        self.pool = pool
        self.poll_interval = poll_interval
        self.keep_versions = keep_versions
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._read = FolderRead(())
        self._acted_on: Fingerprint | None = None
        self._seen: Fingerprint | None = None
        self.first_load = Reload(initial=True)
        """What ``start`` loaded (its problems are the ones to tell the owners at start)."""
        self.reloads = 0
        """How many reloads found something that changed (for tests and metrics)."""
        self.polls = 0
        """How many times the poller looked at the folder."""

    def add_listener(self, listener: Listener) -> None:
        """``listener(reload)`` hears every reload (the Discord side re-registers commands, tells owners)."""
        self._listeners.append(listener)

    # --- loading ----------------------------------------------------------------------------------

    async def start(self) -> Reload:
        """The first load: the folder, versions a broken file had before a restart, the versions open
        jobs need; call before the engine starts."""
        async with self._lock:
            read, fingerprint = await asyncio.to_thread(self._look)
            catalog = await asyncio.to_thread(build_catalog, read)
            fallback = await self._fallbacks(read, catalog)
            if fallback:
                catalog = await asyncio.to_thread(build_catalog, read, catalog, fallback=fallback)
            reload = await self._apply(read, catalog, actor_id=None, guild_id=None, initial=True)
            self.first_load = reload
            self._acted_on = self._seen = fingerprint
            for name, version in await self.versions.in_use():
                if self.library.at_version(name, version) is None:
                    await self._retain(name, version)
        return reload

    async def _fallbacks(self, read: FolderRead, catalog: Catalog) -> dict[Key, TemplateFiles]:
        """For each file that cannot be used now, the last version of it recorded before a restart."""
        found: dict[Key, TemplateFiles] = {}
        for stem_read in read.stems:
            if (stem_read.area, stem_read.stem) in catalog.entries:
                continue
            stored = await self.versions.latest_of_stem(stem_read.stem)
            if stored is not None:
                found[(stem_read.area, stem_read.stem)] = _files(self.folder, stem_read.area, stored)
        return found

    async def _retain(self, name: str, version: str) -> None:
        stored = await self.versions.get(name, version)
        if stored is None:
            log.warning("an open job needs template %s version %s, which is not recorded", name, version)
            return
        template, problems = await asyncio.to_thread(_files(self.folder, Area.PUBLISHED, stored).parse)
        if template is None:
            log.warning("template %s version %s no longer loads: %s", name, version, problems)
            return
        self.library.retain(name, version, template)
        log.info("template %s version %s kept for the open jobs that need it", name, version)

    def _look(self) -> tuple[FolderRead, Fingerprint]:
        fingerprint = self.folder.fingerprint()
        return self.folder.read(), fingerprint

    async def run(self) -> None:
        """Watch the folder until cancelled (a Supervisor loop)."""
        if self.poll_interval <= 0:
            await asyncio.Event().wait()
        while True:
            await asyncio.sleep(self.poll_interval)
            await self.poll()

    async def poll(self) -> Reload | None:
        """Look at the folder once; reload if it changed and looks the same as on the last look."""
        fingerprint = await asyncio.to_thread(self.folder.fingerprint)
        self.polls += 1
        seen, self._seen = self._seen, fingerprint
        if fingerprint == self._acted_on or fingerprint != seen:
            return None  # unchanged, or still changing: look again next time
        return await self.reload()

    async def reload(self, *, actor_id: int | None = None, guild_id: int | None = None) -> Reload:
        """Read the folder now and make what it holds live."""
        async with self._lock:
            return await self._reload(actor_id=actor_id, guild_id=guild_id)

    async def _reload(
        self, *, actor_id: int | None, guild_id: int | None, operation: str | None = None
    ) -> Reload:
        read, fingerprint = await asyncio.to_thread(self._look)
        # Parsing is CPU work (a quarter second for 100 templates at start): off the event loop.
        catalog = await asyncio.to_thread(build_catalog, read, self.library.catalog)
        reload = await self._apply(read, catalog, actor_id=actor_id, guild_id=guild_id, operation=operation)
        self._acted_on = self._seen = fingerprint
        return reload

    async def _apply(
        self,
        read: FolderRead,
        catalog: Catalog,
        *,
        actor_id: int | None,
        guild_id: int | None,
        initial: bool = False,
        operation: str | None = None,
    ) -> Reload:
        """Swap ``catalog`` in; ``operation``: the template an owner's operation changed (every other
        change came from the folder)."""
        before = self.library.catalog
        reload = Reload(
            changes=_changes(before, catalog),
            new_problems=_new(catalog.problems, () if initial else before.problems),
            fixed_problems=() if initial else _new(before.problems, catalog.problems),
            kept=tuple(sorted({e.name for e in catalog if e.broken})),
            problems=catalog.problems,
            initial=initial,
        )
        self._read = read
        self.library.swap(catalog)
        known = {(e.name, e.version) for e in before}
        for entry in catalog:
            if not entry.broken and (initial or (entry.name, entry.version) not in known):
                await self.versions.record(
                    entry.name,
                    entry.version,
                    entry.stem,
                    entry.files.workflow,
                    entry.files.manifest,
                    created_by=actor_id if entry.name == operation else None,
                )
        self.refresh_capabilities()
        if reload.changes or reload.new_problems:
            self.reloads += 1
            for change in reload.changes:
                log.info("template %s: %s -> %s", change.name, _state(change.before), _state(change.after))
            for problem in reload.new_problems:
                log.warning("template problem: %s", problem)
        if not initial:
            await self._audit_folder(reload, guild_id, operation)
        await self._prune()
        for listener in self._listeners:
            try:
                await listener(reload)
            except Exception:
                log.exception("a template listener failed")
        return reload

    async def _audit_folder(self, reload: Reload, guild_id: int | None, operation: str | None) -> None:
        """Changes nobody made through Discord came from the folder: record them."""
        for change in reload.changes:
            if change.name == operation:
                continue
            entry = self.library.entry(change.name)
            await self.audit.record(
                TemplateAudit.FOLDER,
                guild_id=guild_id,
                details={
                    "name": change.name,
                    "before": _state(change.before),
                    "after": _state(change.after),
                    **(_file_details(entry) if entry is not None and change.after is not None else {}),
                },
            )
        if reload.new_problems:
            await self.audit.record(
                TemplateAudit.BROKEN,
                guild_id=guild_id,
                details={"problems": [str(p) for p in reload.new_problems[:MAX_LISTED_PROBLEMS]]},
            )

    async def _prune(self) -> None:
        needed = await self.versions.in_use()
        self.library.prune(needed)
        current = {(entry.name, entry.version) for entry in self.library.catalog}
        await self.versions.prune(keep=self.keep_versions, also_keep=current)

    def refresh_capabilities(self) -> None:
        """Check every backend seen so far against the templates as they are now."""
        if self.pool is None:
            return
        for backend in self.pool.backends:
            if backend.object_info is not None:
                self.pool.set_object_info(backend, backend.object_info)

    # --- checks ---------------------------------------------------------------------------------------

    async def check_backends(self, templates: Iterable[Template]) -> list[BackendCheck]:
        """Each configured backend's verdict on ``templates``, from a fresh ``/object_info``."""
        chosen = list(templates)
        checks: list[BackendCheck] = []
        for backend in self.pool.backends if self.pool is not None else []:
            info = await self._object_info(backend)
            if info is None:
                checks.append(BackendCheck(backend.display_name, error="not answering"))
                continue
            checks.append(
                BackendCheck(
                    backend.display_name,
                    tuple(preflight(t, info, backend=backend.display_name) for t in chosen),
                )
            )
        return checks

    async def _object_info(self, backend: Backend) -> Mapping[str, Any] | None:
        if not backend.healthy:
            return backend.object_info
        try:
            info = await backend.client.http.object_info()
        except ComfyError as exc:
            log.info("backend %s: /object_info for a template check failed: %s", backend.name, exc)
            return backend.object_info
        assert self.pool is not None
        self.pool.set_object_info(backend, info)  # what was installed since: the engine learns it too
        return info

    async def require_runnable(self, template: Template) -> list[BackendCheck]:
        """The check before a template goes public: some connected backend must be able to run it."""
        checks = await self.check_backends([template])
        if any(c.capabilities and c.capabilities[0].ok for c in checks):
            return checks
        if not any(c.capabilities for c in checks):
            raise InvalidInput(
                f"No image server is answering, so `/{template.name}` can't be checked against one; "
                "nothing was changed. Try again once one is up."
            )
        reasons = [f"{c.name}: {r}" for c in checks for cap in c.capabilities for r in cap.reasons]
        raise TemplateError([f"no image server can run /{template.name}", *reasons[:MAX_LISTED_PROBLEMS]])

    # --- operations ---------------------------------------------------------------------------------

    async def add(
        self,
        workflow: bytes,
        manifest: bytes | None,
        *,
        stem: str,
        actor_id: int,
        guild_id: int | None,
    ) -> Entry:
        """A new template as a draft (``drafts/<stem>.json``): validated, written, loaded, audited."""
        stem = sanitize_command_name(stem)
        if not stem:
            raise InvalidInput("Give the template a name of letters, digits, - or _ (the `name` option).")
        async with self._lock:
            for area in Area:
                if self.folder.exists(area, stem):
                    raise InvalidInput(
                        f"There is already a template file `{self.folder.prefix(area)}{stem}.json`; "
                        "change it with `/template edit`, or choose another name."
                    )
            files = self._decoded(Area.DRAFT, stem, workflow, manifest)
            parsed, _ = files.parse()
            clash = self.library.entry(parsed.name) if parsed is not None else None
            if clash is not None:
                raise InvalidInput(
                    f"`/{clash.name}` already exists ({_area_words(clash.area)}); change it with "
                    "`/template edit`, or give this one another name in its manifest."
                )
            entry = await self._validated(files, Area.DRAFT)
            await self._on_disk(self.folder.write, Area.DRAFT, stem, files.workflow, files.manifest)
            added = await self._after_write(entry.name, stem, Area.DRAFT, actor_id)
            await self._record(TemplateAudit.ADD, added, actor_id, guild_id)
            return added

    async def edit(
        self,
        name: str,
        *,
        workflow: bytes | None,
        manifest: bytes | None,
        drop_manifest: bool = False,
        actor_id: int,
        guild_id: int | None,
    ) -> tuple[Entry, str]:
        """Replace a template's export and/or manifest; returns the entry and the previous version.

        Jobs already queued or running keep the version they were validated with."""
        if workflow is None and manifest is None and not drop_manifest:
            raise InvalidInput("Attach the new export, the new manifest, or both (or drop the manifest).")
        async with self._lock:
            current = self._entry(name)
            keep = current.files
            workflow_text = keep.workflow if workflow is None else None
            manifest_text = None if drop_manifest else keep.manifest if manifest is None else None
            files = self._decoded(
                current.area,
                current.stem,
                workflow,
                manifest,
                workflow_text=workflow_text,
                manifest_text=manifest_text,
            )
            if files.version == current.version and not current.broken:
                raise InvalidInput(f"That is `/{name}` as it is now (version `{current.version}`).")
            entry = await self._validated(files, current.area)
            if entry.name != current.name:
                raise InvalidInput(
                    f"The new manifest names the command `/{entry.name}`, not `/{name}`; a template "
                    "keeps its name (add a new one instead)."
                )
            if current.area is Area.PUBLISHED:
                await self.require_runnable(self._resolved(entry))
            await self._on_disk(self.folder.write, current.area, current.stem, files.workflow, files.manifest)
            edited = await self._after_write(name, current.stem, current.area, actor_id)
            await self._record(TemplateAudit.EDIT, edited, actor_id, guild_id, previous=current.version)
            return edited, current.version

    async def publish(self, name: str, *, actor_id: int, guild_id: int | None) -> Entry:
        """A draft (or a retired template) becomes a slash command, once a backend can run it."""
        async with self._lock:
            current = self._entry(name)
            if current.area is Area.PUBLISHED:
                raise InvalidInput(f"`/{name}` is published already.")
            if self.folder.exists(Area.PUBLISHED, current.stem):
                raise InvalidInput(
                    f"A published file `{current.stem}.json` exists already; retire or rename it first."
                )
            if current.broken:
                raise TemplateError([str(p) for p in current.broken])
            template = self.library.runnable(name) or self.library.catalog.retired.get(name)
            await self.require_runnable(template or current.template)
            await self._on_disk(self.folder.move, current.stem, current.area, Area.PUBLISHED)
            published = await self._after_write(name, current.stem, Area.PUBLISHED, actor_id)
            await self._record(TemplateAudit.PUBLISH, published, actor_id, guild_id, previous=current.area)
            return published

    async def retire(self, name: str, *, actor_id: int, guild_id: int | None) -> Entry:
        """The command goes (its jobs finish with their version); the files move to ``retired/``."""
        async with self._lock:
            current = self._entry(name)
            if current.area is Area.RETIRED:
                raise InvalidInput(f"`/{name}` is retired already.")
            await self._on_disk(self.folder.move, current.stem, current.area, Area.RETIRED)
            retired = await self._after_write(name, current.stem, Area.RETIRED, actor_id)
            await self._record(TemplateAudit.RETIRE, retired, actor_id, guild_id, previous=current.area)
            return retired

    async def restore(
        self, name: str, version: str | None, *, actor_id: int, guild_id: int | None
    ) -> tuple[Entry, str]:
        """Put an older version back (the one before the current, or ``version``); returns the entry
        and the version it replaced. A template no longer in the folder comes back as a draft."""
        async with self._lock:
            current = self.library.entry(name)
            stored = await self._version_to_restore(name, version, current)
            area = current.area if current is not None else Area.DRAFT
            stem = current.stem if current is not None else stored.stem
            if current is None and any(self.folder.exists(a, stem) for a in Area):
                raise InvalidInput(f"A file `{stem}.json` exists already; it is not `/{name}`.")
            files = _files(self.folder, area, replace(stored, stem=stem))
            entry = await self._validated(files, area)
            if area is Area.PUBLISHED:
                await self.require_runnable(self._resolved(entry))
            await self._on_disk(self.folder.write, area, stem, stored.workflow, stored.manifest)
            restored = await self._after_write(name, stem, area, actor_id)
            previous = current.version if current is not None else ""
            await self._record(TemplateAudit.RESTORE, restored, actor_id, guild_id, previous=previous)
            return restored, previous

    async def _version_to_restore(
        self, name: str, version: str | None, current: Entry | None
    ) -> StoredVersion:
        history = await self.versions.history(name)
        if version is not None:
            wanted = version.strip().lower()
            stored = next((v for v in history if v.version == wanted), None)
            if stored is None:
                raise InvalidInput(f"`/{name}` has no version `{wanted}` in its history.")
            if current is not None and stored.version == current.version and not current.broken:
                raise InvalidInput(f"Version `{wanted}` is the current one.")
            return stored
        now = current.version if current is not None and not current.broken else None
        earlier = [v for v in history if v.version != now]
        if not earlier:
            raise InvalidInput(f"`/{name}` has no earlier version to restore.")
        return earlier[0]

    async def history(self, name: str, *, limit: int = 10) -> list[StoredVersion]:
        """The versions of ``name`` the history keeps, newest first."""
        return await self.versions.history(name, limit=limit)

    async def record_try(self, name: str, job_id: str, *, actor_id: int, guild_id: int | None) -> None:
        entry = self.library.entry(name)
        await self.audit.record(
            TemplateAudit.TRY,
            guild_id=guild_id,
            actor_id=actor_id,
            job_id=job_id,
            details={"name": name, "version": entry.version if entry is not None else None},
        )

    # --- helpers ------------------------------------------------------------------------------------

    async def _on_disk(self, change: Callable[..., None], *args: Any) -> None:
        """Run a write or move of the folder in a thread; a folder the bot may not write is said so."""
        try:
            await asyncio.to_thread(change, *args)
        except OSError as exc:
            log.error("the workflows folder %s could not be changed: %s", self.folder.root, exc)
            raise BotError(
                f"I can't write to the workflows folder ({exc.strerror or type(exc).__name__}); nothing "
                "changed. Its owner on the server must let the bot write there (is it mounted read-only?)."
            ) from None

    def _entry(self, name: str) -> Entry:
        entry = self.library.entry(name.strip().lstrip("/"))
        if entry is None:
            raise InvalidInput(f"There is no template `{name}` (see `/template list`).")
        return entry

    def _decoded(
        self,
        area: Area,
        stem: str,
        workflow: bytes | None,
        manifest: bytes | None,
        *,
        workflow_text: str | None = None,
        manifest_text: str | None = None,
    ) -> TemplateFiles:
        """The uploaded files' text, under the folder's size limit, named as they will be on disk."""
        prefix = self.folder.prefix(area)
        json_name, toml_name = f"{prefix}{stem}.json", f"{prefix}{stem}.toml"
        problems: list[Problem] = []
        if workflow is not None:
            workflow_text, problem = decode_upload(json_name, workflow, self.folder.max_file_bytes)
            problems.extend([problem] if problem else [])
        if manifest is not None:
            manifest_text, problem = decode_upload(toml_name, manifest, self.folder.max_file_bytes)
            problems.extend([problem] if problem else [])
        if problems or workflow_text is None:
            raise TemplateError([str(p) for p in problems])
        return TemplateFiles(stem, workflow_text, manifest_text, json_name, toml_name)

    async def _validated(self, files: TemplateFiles, area: Area) -> Entry:
        """Load ``files`` the way a reload would, beside everything else in the folder, without
        writing anything: every problem of these files refuses them, with the loader's messages."""
        stems = [s for s in self._read.stems if (s.area, s.stem) != (area, files.stem)]
        trial = FolderRead((*stems, StemRead(area, files.stem, files)), self._read.problems)
        catalog = await asyncio.to_thread(build_catalog, trial, self.library.catalog)
        mine = {files.json_name, files.toml_name}
        problems = [p for p in catalog.problems if p.file in mine]
        entry = catalog.entries.get((area, files.stem))
        if problems or entry is None or entry.broken:
            raise TemplateError([str(p) for p in problems] or ["the template could not be loaded"])
        return entry

    def _resolved(self, entry: Entry) -> Template:
        return entry.template

    async def _after_write(self, name: str, stem: str, area: Area, actor_id: int) -> Entry:
        """Reload after an operation wrote files, and return what the folder holds now."""
        await self._reload(actor_id=actor_id, guild_id=None, operation=name)
        entry = self.library.catalog.entries.get((area, stem))
        if entry is None or entry.name != name:
            raise BotError(
                "The files were written but did not load as expected; see `/template list`.",
                detail=f"template {name} missing from {area} after a write",
            )
        return entry

    async def _record(
        self,
        action: TemplateAudit,
        entry: Entry,
        actor_id: int,
        guild_id: int | None,
        *,
        previous: str | None = None,
    ) -> None:
        details: dict[str, Any] = {"name": entry.name, "area": entry.area.value, **_file_details(entry)}
        if previous is not None:
            details["previous"] = previous
        await self.audit.record(action, guild_id=guild_id, actor_id=actor_id, details=details)
        log.info("template %s: %s by user=%s (version %s)", entry.name, action.value, actor_id, entry.version)


def _files(folder: WorkflowFolder, area: Area, stored: StoredVersion) -> TemplateFiles:
    prefix = folder.prefix(area)
    return TemplateFiles(
        stored.stem,
        stored.workflow,
        stored.manifest,
        f"{prefix}{stored.stem}.json",
        f"{prefix}{stored.stem}.toml",
    )


def _file_details(entry: Entry) -> dict[str, Any]:
    files = {entry.files.json_name: file_hash(entry.files.workflow)}
    if entry.files.manifest is not None:
        files[entry.files.toml_name] = file_hash(entry.files.manifest)
    return {"version": entry.version, "files": files}


def _changes(before: Catalog, after: Catalog) -> tuple[TemplateChange, ...]:
    def states(catalog: Catalog) -> dict[str, tuple[Area, str]]:
        found: dict[str, tuple[Area, str]] = {}
        for area, templates in (
            (Area.RETIRED, catalog.retired),
            (Area.DRAFT, catalog.drafts),
            (Area.PUBLISHED, catalog.published),
        ):
            for template in templates:
                entry = catalog.entry(template.name)
                if entry is not None and entry.area is area:
                    found[template.name] = (area, entry.version)
        return found

    old, new = states(before), states(after)
    return tuple(
        TemplateChange(name, old.get(name), new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    )


def _new(problems: Iterable[Problem], known: Iterable[Problem]) -> tuple[Problem, ...]:
    seen = {str(p) for p in known}
    return tuple(p for p in problems if str(p) not in seen)


def _state(state: tuple[Area, str] | None) -> str:
    return "absent" if state is None else f"{state[0].value} {state[1]}"


def _area_words(area: Area) -> str:
    return {Area.PUBLISHED: "published", Area.DRAFT: "a draft", Area.RETIRED: "retired"}[area]

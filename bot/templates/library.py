"""The templates the bot runs right now, and the older versions jobs still need.

A job stores its template's name and the version it was validated against. When an owner edits a
template, jobs already queued or running must still run the graph they were checked with, so the
library keeps a superseded version for as long as an open job refers to it (the caller says which,
from the database: ``prune``), and always the last few of each name, which covers a job that was
validated a moment before the edit and is not stored yet. After a restart the versions of open jobs
are put back from the database's version history (``retain``).

Reads are plain attribute lookups on the event loop; ``swap`` replaces the whole state at once, so a
reader never sees half of a reload.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

from bot.templates.catalog import Catalog, Entry
from bot.templates.model import Template, TemplateSet

KEEP_SUPERSEDED = 3
"""Superseded versions of each template kept in memory even when no open job is known to need them."""


class TemplateLibrary:
    """Published templates (read like a ``TemplateSet``), drafts, and versions by (name, version)."""

    def __init__(self, catalog: Catalog | None = None, *, keep_superseded: int = KEEP_SUPERSEDED) -> None:
        self._catalog = catalog or Catalog()
        self._keep = keep_superseded
        self._versions: dict[str, str] = self._catalog.versions()
        # (name, version) -> template, oldest first, for versions that are no longer current.
        self._superseded: OrderedDict[tuple[str, str], Template] = OrderedDict()
        self._gone: set[str] = set()

    @classmethod
    def fixed(cls, templates: TemplateSet) -> TemplateLibrary:
        """A library that is just ``templates`` (the CLI, tests): every template published, unversioned."""
        library = cls()
        library._catalog = Catalog(published=templates)
        return library

    # --- what runs now ----------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def published(self) -> TemplateSet:
        return self._catalog.published

    @property
    def drafts(self) -> TemplateSet:
        return self._catalog.drafts

    def get(self, name: str) -> Template | None:
        """A published template (what members can run)."""
        return self._catalog.published.get(name)

    def __getitem__(self, name: str) -> Template:
        return self._catalog.published[name]

    def __iter__(self) -> Iterator[Template]:
        return iter(self._catalog.published)

    def __len__(self) -> int:
        return len(self._catalog.published)

    def __contains__(self, name: object) -> bool:
        return name in self._catalog.published

    @property
    def names(self) -> tuple[str, ...]:
        return self._catalog.published.names

    def runnable(self, name: str) -> Template | None:
        """A template a new job may use: published, or a draft (owners try drafts)."""
        return self._catalog.template(name)

    def version(self, name: str) -> str | None:
        """The current version of a runnable template (None for one that is not versioned)."""
        return self._versions.get(name)

    def entry(self, name: str) -> Entry | None:
        return self._catalog.entry(name)

    def is_retired(self, name: str) -> bool:
        """The template was retired (its files are in ``retired/``) or removed from the folder."""
        if self.runnable(name) is not None:
            return False
        return name in self._catalog.retired or name in self._gone

    # --- versions ---------------------------------------------------------------------------------

    def at_version(self, name: str, version: str) -> Template | None:
        """The template as it was at ``version``, if the library still has it."""
        if self._versions.get(name) == version:
            return self.runnable(name)
        return self._superseded.get((name, version))

    def latest_known(self, name: str) -> Template | None:
        """The current template, or else the newest superseded version (a retired template's jobs)."""
        current = self.runnable(name)
        if current is not None:
            return current
        for (kept, _), template in reversed(self._superseded.items()):
            if kept == name:
                return template
        return None

    def in_memory(self) -> set[tuple[str, str]]:
        """(name, version) of every version the library can run: current and superseded."""
        return set(self._versions.items()) | set(self._superseded)

    def templates_for_capabilities(self) -> list[Template]:
        """What backends are checked against: every runnable template, and the newest superseded
        version of each name that is no longer runnable (so a retired template's queued jobs run)."""
        found = {t.name: t for t in (*self._catalog.published, *self._catalog.drafts)}
        for (name, _), template in reversed(self._superseded.items()):
            found.setdefault(name, template)
        return list(found.values())

    def swap(self, catalog: Catalog) -> None:
        """Make ``catalog`` current; versions it replaces or removes are kept as superseded."""
        new_versions = catalog.versions()
        for name, version in self._versions.items():
            if new_versions.get(name) != version:
                template = self.runnable(name)
                if template is not None:
                    self._superseded[(name, version)] = template
                    self._superseded.move_to_end((name, version))
        for key in [k for k in self._superseded if new_versions.get(k[0]) == k[1]]:
            del self._superseded[key]  # that version is current again (restored)
        previous_names = set(self._versions)
        self._catalog = catalog
        self._versions = new_versions
        self._gone = (self._gone | (previous_names - set(new_versions))) - set(new_versions)

    def retain(self, name: str, version: str, template: Template) -> None:
        """Keep a version an open job needs (read back from the database after a restart)."""
        if self._versions.get(name) != version:
            self._superseded[(name, version)] = template

    def prune(self, needed: Iterable[tuple[str, str]]) -> int:
        """Forget superseded versions no open job needs, except the newest few of each name."""
        keep = set(needed)
        counts: dict[str, int] = {}
        for name, version in reversed(self._superseded):
            counts[name] = counts.get(name, 0) + 1
            if counts[name] <= self._keep:
                keep.add((name, version))
        dropped = [key for key in self._superseded if key not in keep]
        for key in dropped:
            del self._superseded[key]
        return len(dropped)

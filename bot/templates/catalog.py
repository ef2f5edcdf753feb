"""What the workflows folder holds, as templates: published, drafts and retired, each at a version.

``build_catalog`` is pure: it turns a ``FolderRead`` into a ``Catalog``, reusing what the previous
catalog parsed when a file did not change (same version) and keeping the last good version of a file
that broke (its problems are listed with it, so the owners learn where the problem is while members
keep the working command).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from bot.templates.folder import Area, FolderRead, StemRead
from bot.templates.loader import TemplateFiles, check_actions
from bot.templates.model import Problem, Template, TemplateSet

Key = tuple[Area, str]
"""(area, stem): where a template's files are."""


@dataclass(frozen=True, eq=False)
class Entry:
    """One template of the folder: its last good version and, if the files broke since, why."""

    area: Area
    stem: str
    template: Template
    """As parsed from its files (actions are resolved per catalog: see ``Catalog``)."""
    files: TemplateFiles
    broken: tuple[Problem, ...] = ()
    """The files on disk now are unusable; ``template`` is the last version that worked."""

    @property
    def name(self) -> str:
        return self.template.name

    @property
    def version(self) -> str:
        return self.files.version


@dataclass(frozen=True, eq=False)
class Catalog:
    """Every template of the folder. ``published``/``drafts``/``retired`` have their actions resolved."""

    entries: Mapping[Key, Entry] = field(default_factory=dict)
    published: TemplateSet = field(default_factory=TemplateSet)
    drafts: TemplateSet = field(default_factory=TemplateSet)
    retired: TemplateSet = field(default_factory=TemplateSet)
    problems: tuple[Problem, ...] = ()
    """Everything wrong in the folder, broken files with a last good version included."""

    def entry(self, name: str) -> Entry | None:
        """The entry of the template called ``name`` (published first, then drafts, then retired)."""
        for area, templates in (
            (Area.PUBLISHED, self.published),
            (Area.DRAFT, self.drafts),
            (Area.RETIRED, self.retired),
        ):
            template = templates.get(name)
            if template is not None:
                return self._by_name(area, name)
        return None

    def _by_name(self, area: Area, name: str) -> Entry | None:
        return next((e for e in self.entries.values() if e.area is area and e.name == name), None)

    def template(self, name: str) -> Template | None:
        """A template that may run (published or draft), with its actions resolved."""
        return self.published.get(name) or self.drafts.get(name)

    def versions(self) -> dict[str, str]:
        """{name: version} of every published and draft template."""
        found: dict[str, str] = {}
        for templates in (self.published, self.drafts):
            for template in templates:
                entry = self.entry(template.name)
                if entry is not None:
                    found[template.name] = entry.version
        return found

    def area_of(self, name: str) -> Area | None:
        entry = self.entry(name)
        return entry.area if entry is not None else None

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())


def build_catalog(
    read: FolderRead,
    previous: Catalog | None = None,
    *,
    fallback: Mapping[Key, TemplateFiles] | None = None,
) -> Catalog:
    """The catalog of ``read``. A file unchanged since ``previous`` is not parsed again; a broken one
    keeps ``previous``'s version (or ``fallback``'s, the last version recorded before a restart)."""
    old = previous.entries if previous is not None else {}
    problems: list[Problem] = list(read.problems)
    entries: dict[Key, Entry] = {}
    for stem_read in read.stems:
        key = (stem_read.area, stem_read.stem)
        entry, found = _entry(stem_read, old.get(key), (fallback or {}).get(key))
        problems.extend(found)
        if entry is not None:
            entries[key] = entry
    sets, name_problems = _named(entries.values())
    problems.extend(name_problems)
    return Catalog(
        entries=entries,
        published=sets[Area.PUBLISHED],
        drafts=sets[Area.DRAFT],
        retired=sets[Area.RETIRED],
        problems=tuple(problems),
    )


def _entry(
    read: StemRead, previous: Entry | None, fallback: TemplateFiles | None
) -> tuple[Entry | None, list[Problem]]:
    if read.files is None:
        problems = list(read.problems)
        last = previous or _from_files(read, fallback)
        if last is None:
            return None, problems
        return Entry(read.area, read.stem, last.template, last.files, tuple(problems)), problems
    if previous is not None and previous.version == read.files.version:
        return Entry(read.area, read.stem, previous.template, previous.files), []
    template, problems = read.files.parse()
    if template is not None:
        return Entry(read.area, read.stem, template, read.files), []
    last = previous or _from_files(read, fallback)
    if last is None:
        return None, problems
    return Entry(read.area, read.stem, last.template, last.files, tuple(problems)), problems


def _from_files(read: StemRead, files: TemplateFiles | None) -> Entry | None:
    """An entry for the last version recorded of a file that is broken now (or None)."""
    if files is None:
        return None
    template, _ = files.parse()
    return None if template is None else Entry(read.area, read.stem, template, files)


def _named(entries: Iterable[Entry]) -> tuple[dict[Area, TemplateSet], list[Problem]]:
    """Each area's templates by command name (the first file of a name wins), actions resolved:
    a published template's actions against the published ones, a draft's against those and itself."""
    problems: list[Problem] = []
    by_area: dict[Area, dict[str, Template]] = {area: {} for area in Area}
    files: dict[str, str] = {}
    for entry in entries:
        taken = by_area[entry.area]
        file = entry.files.toml_name if entry.files.manifest is not None else entry.files.json_name
        clash = files.get(entry.name) if entry.name in taken else None
        if clash is None and entry.area is Area.DRAFT and entry.name in by_area[Area.PUBLISHED]:
            clash = files.get(entry.name)
        if clash is not None:
            problems.append(
                Problem(file, f"command name '{entry.name}' is already used by {clash}", "[command]")
            )
            continue
        taken[entry.name] = entry.template
        files.setdefault(entry.name, file)
    published, found = check_actions(by_area[Area.PUBLISHED], files)
    problems.extend(found)
    drafts: dict[str, Template] = {}
    for name, draft in by_area[Area.DRAFT].items():
        resolved, found = check_actions({**published, name: draft}, files)
        drafts[name] = resolved[name]
        problems.extend(p for p in found if p.file == files.get(name))
    retired = dict(by_area[Area.RETIRED])
    return {
        Area.PUBLISHED: TemplateSet(published),
        Area.DRAFT: TemplateSet(drafts),
        Area.RETIRED: TemplateSet(retired),
    }, problems

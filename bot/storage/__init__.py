"""Persistence: the SQLite database, its migrations, one repository per table, and the file spool."""

from bot.storage.audit import AuditEntry, AuditRepository
from bot.storage.backend_clients import BackendClientRepository
from bot.storage.bans import Ban, BanRepository
from bot.storage.database import DATABASE_FILE, Database
from bot.storage.deliveries import Delivery, DeliveryKind, DeliveryRepository
from bot.storage.errors import MigrationFailed, SchemaTooNew, StorageError
from bot.storage.guild_settings import GuildSettingsRepository
from bot.storage.intake import IntakeAttachment, IntakeEntry, IntakeRepository
from bot.storage.jobs import JobRepository
from bot.storage.meta import MetaRepository
from bot.storage.migrate import Migration, load_migrations
from bot.storage.outputs import OutputRepository
from bot.storage.quotas import QuotaRepository, Usage
from bot.storage.spool import SPOOL_DIR, Spool, SpooledFile, safe_name
from bot.storage.template_versions import (
    StoredVersion,
    TemplateManagerRepository,
    TemplateVersionRepository,
)

__all__ = [
    "DATABASE_FILE",
    "SPOOL_DIR",
    "AuditEntry",
    "AuditRepository",
    "BackendClientRepository",
    "Ban",
    "BanRepository",
    "Database",
    "Delivery",
    "DeliveryKind",
    "DeliveryRepository",
    "GuildSettingsRepository",
    "IntakeAttachment",
    "IntakeEntry",
    "IntakeRepository",
    "JobRepository",
    "MetaRepository",
    "Migration",
    "MigrationFailed",
    "OutputRepository",
    "QuotaRepository",
    "SchemaTooNew",
    "Spool",
    "SpooledFile",
    "StorageError",
    "StoredVersion",
    "TemplateManagerRepository",
    "TemplateVersionRepository",
    "Usage",
    "load_migrations",
    "safe_name",
]

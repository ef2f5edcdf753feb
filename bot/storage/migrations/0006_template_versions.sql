-- 0006: templates managed live from Discord: versions, who may manage them, which version a job runs.
--
-- A job records the version of its template it was validated against, so that a job queued or running
-- while an owner edits the template still runs the graph it was checked with. NULL for jobs stored
-- before versions existed: they run the template as it is now.
ALTER TABLE jobs ADD COLUMN template_version TEXT;
CREATE INDEX jobs_template_version ON jobs (template, template_version);

-- Every version of every template the bot has loaded (from the folder or from Discord): the files as
-- they were read, so a job of an older version runs after an edit and a restart, and `/template
-- restore` can put an older version back. Old versions are pruned (the newest few of each template
-- and every version an open job needs are kept).
CREATE TABLE template_versions (
    name       TEXT    NOT NULL,                  -- the command name
    version    TEXT    NOT NULL,                  -- a hash of the files (templates.versions.version_id)
    stem       TEXT    NOT NULL,                  -- the file name without .json/.toml
    workflow   TEXT    NOT NULL,                  -- the API-format export, as read
    manifest   TEXT,                              -- NULL when the template has no manifest
    created_at REAL    NOT NULL,                  -- when the bot first saw this version
    created_by INTEGER,                           -- who uploaded it through Discord; NULL: from the folder
    PRIMARY KEY (name, version)
);
CREATE INDEX template_versions_stem ON template_versions (stem, created_at);

-- Roles an owner allowed to manage templates (`/template allow`), per server.
CREATE TABLE template_managers (
    guild_id   INTEGER NOT NULL,
    role_id    INTEGER NOT NULL,
    granted_by INTEGER NOT NULL,
    granted_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);

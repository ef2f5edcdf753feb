-- 0001: the first schema. Migrations are forward-only: never edit an applied file, add 0002_... instead.

-- Jobs. `seq` gives a stable insertion order (created_at can tie under an injected clock, and the
-- implicit rowid of a table without an INTEGER PRIMARY KEY may be renumbered by VACUUM).
-- `state` has no CHECK constraint on purpose: adding a state later must not need a table rebuild;
-- the code refuses unknown values when it reads a row.
CREATE TABLE jobs (
    seq               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    guild_id          INTEGER,
    channel_id        INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    template          TEXT    NOT NULL,
    params            TEXT    NOT NULL DEFAULT '{}',   -- JSON object, includes the chosen seed
    state             TEXT    NOT NULL,
    lane              TEXT    NOT NULL DEFAULT 'default',
    backend           TEXT,
    prompt_id         TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    failure_reason    TEXT,                             -- user-safe words, never a stack trace
    created_at        REAL    NOT NULL,
    updated_at        REAL    NOT NULL,
    started_at        REAL,
    finished_at       REAL,
    status_channel_id INTEGER,
    status_message_id INTEGER
);
CREATE INDEX jobs_state_created ON jobs (state, created_at, seq);
CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
CREATE INDEX jobs_created ON jobs (created_at);

CREATE TABLE job_inputs (
    job_id   TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    param    TEXT    NOT NULL,
    path     TEXT    NOT NULL,
    sha256   TEXT    NOT NULL,
    filename TEXT    NOT NULL,
    PRIMARY KEY (job_id, position)
);

CREATE TABLE job_outputs (
    job_id  TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx     INTEGER NOT NULL,
    path    TEXT    NOT NULL,
    sha256  TEXT    NOT NULL,
    mime    TEXT    NOT NULL,
    width   INTEGER,
    height  INTEGER,
    node_id TEXT,
    PRIMARY KEY (job_id, idx)
);

-- One row per job and kind ('result', 'status'): the unique key is what makes delivery idempotent.
CREATE TABLE deliveries (
    job_id       TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    channel_id   INTEGER,
    message_ids  TEXT    NOT NULL DEFAULT '[]',         -- JSON list of Discord message ids
    delivered_at REAL    NOT NULL,
    PRIMARY KEY (job_id, kind)
);

-- ComfyUI only sends execution events to the websocket whose clientId sent the prompt, so the id
-- must survive restarts to pick up jobs that were running when the bot stopped.
CREATE TABLE backend_clients (
    backend_url TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    created_at  REAL NOT NULL
);

CREATE TABLE guild_settings (
    guild_id   INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,                        -- JSON
    updated_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, key)
);

-- guild_id 0 means every guild (a bot-wide ban): NULL would not take part in the primary key.
CREATE TABLE bans (
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    until        REAL,                                  -- NULL: until lifted
    reason       TEXT    NOT NULL DEFAULT '',
    moderator_id INTEGER,
    created_at   REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- guild_id 0 stands for DMs and the CLI, for the same reason as in bans.
CREATE TABLE quota_usage (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    day         TEXT    NOT NULL,                       -- ISO date, UTC
    jobs        INTEGER NOT NULL DEFAULT 0,
    gpu_seconds REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, user_id, day)
);
CREATE INDEX quota_usage_day ON quota_usage (day);

-- The audit trail outlives the jobs it mentions, hence no foreign key on job_id.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    guild_id  INTEGER,
    actor_id  INTEGER,
    action    TEXT    NOT NULL,
    target_id INTEGER,
    job_id    TEXT,
    details   TEXT    NOT NULL DEFAULT '{}',            -- JSON object
    at        REAL    NOT NULL
);
CREATE INDEX audit_log_guild_at ON audit_log (guild_id, at);
CREATE INDEX audit_log_job ON audit_log (job_id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

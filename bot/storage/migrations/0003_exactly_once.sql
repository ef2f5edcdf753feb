-- 0003: what the engine needs to deliver exactly once and to tell a member why a job started over.

-- The latest word about a job that is still on its way (moved to another server, started again),
-- shown in its status message until it ends. NULL when there is nothing to say.
ALTER TABLE jobs ADD COLUMN notice TEXT;

-- One row per message a delivery posted besides the status message (results 11-20, 21-30, ...).
-- A delivery that is retried after a crash skips the parts recorded here, so none is posted twice.
CREATE TABLE delivery_parts (
    job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    part       INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    posted_at  REAL    NOT NULL,
    PRIMARY KEY (job_id, part)
);

-- Cooldowns and queue limits look up one member's jobs in one server.
CREATE INDEX jobs_guild_user_created ON jobs (guild_id, user_id, created_at);

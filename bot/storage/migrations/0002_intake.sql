-- 0002: the intake journal. A slash command is written here right after it is acknowledged and
-- removed once it became a job (or was refused with a message), so a command the bot was still
-- working on when it died is finished after the restart instead of being lost.
-- `token` is the interaction token (valid 15 minutes); rows never outlive their use.
CREATE TABLE intake (
    interaction_id  TEXT    PRIMARY KEY,
    application_id  INTEGER NOT NULL,
    token           TEXT    NOT NULL,
    guild_id        INTEGER,
    channel_id      INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    template        TEXT    NOT NULL,
    request         TEXT    NOT NULL,   -- JSON: {"values": {...}, "attachments": [{param, url, filename, size, content_type}]}
    received_at     REAL    NOT NULL
);

-- Which request (the Discord interaction id) created a job, written in the job's own transaction:
-- submitting the same request again returns that job instead of creating a second one.
CREATE TABLE job_requests (
    request_id  TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE
);

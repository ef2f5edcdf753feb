-- 0004: results held for a moderator, and where a job's results may be shown.
--
-- Output holds are job states (held -> released -> delivered, or withheld): `state` has no CHECK
-- constraint, so they need no change here. A held job is not terminal, so the spool janitor keeps
-- its images for as long as the moderators take.

-- Whether the job was made in an age-restricted channel: its results were never screened, so they
-- are only ever shown in age-restricted channels. NULL for jobs stored before this column existed.
ALTER TABLE jobs ADD COLUMN age_restricted INTEGER;

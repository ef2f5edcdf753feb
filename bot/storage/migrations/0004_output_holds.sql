-- 0004: results held for a moderator, and where a job's results may be shown.
--
-- Output holds are job states (held -> released -> delivered, or withheld): `state` has no CHECK
-- constraint, so they need no change here. A held job is not terminal, so the spool janitor keeps
-- its images for as long as the moderators take.

-- Whether the job was made in an age-restricted channel: its results were never screened, so they
-- are only ever shown in age-restricted channels. NULL for jobs stored before this column existed.
ALTER TABLE jobs ADD COLUMN age_restricted INTEGER;

-- Results held before holds were states were stored as delivered, with the moderators' message
-- recorded as an 'output_hold' delivery and the first decision as an 'output_decision' one: those
-- still waiting for a decision become held, so Release and Discard keep working on them.
UPDATE jobs SET state = 'held'
WHERE state = 'delivered'
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.kind = 'output_hold')
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.kind = 'output_decision');

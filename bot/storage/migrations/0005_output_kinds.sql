-- 0005: results of every kind (issue 14): images, animations, videos, audio and texts.
--
-- `kind` says how a result is shown (a gallery item, an inline player, a file, text); `mime` already
-- says its type. Rows stored before this column existed were all images.
ALTER TABLE job_outputs ADD COLUMN kind TEXT NOT NULL DEFAULT 'image';

-- Schema 2: with logins on, every transcript belongs to the user who made it. Transcripts saved before logins
-- existed belong to no one (''), which is also who everyone is when the app runs without logins.

ALTER TABLE transcripts ADD COLUMN owner TEXT NOT NULL DEFAULT '';
DROP INDEX transcripts_created;
CREATE INDEX transcripts_owner_created ON transcripts (owner, created);

-- Schema 4: corrections. Every save of an edited transcript is a new version; the model's output stays stored.

ALTER TABLE transcripts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE versions (
    transcript_id INTEGER NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,         -- 1 is the model's output
    created TEXT NOT NULL,
    body TEXT NOT NULL,              -- the Transcript as JSON, as transcripts.body
    PRIMARY KEY (transcript_id, number)
);

-- Schema 1: transcripts, their audio, and a full-text index of their segments.

-- Audio files kept in the library's media folder, named by the SHA-256 of their bytes.
CREATE TABLE media (
    sha256 TEXT PRIMARY KEY,
    suffix TEXT NOT NULL,            -- the original file's extension, ".wav", so players know the type
    size INTEGER NOT NULL            -- bytes
);

CREATE TABLE transcripts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,              -- what the user calls it; starts as the source file's name
    source_name TEXT NOT NULL,       -- the uploaded or given file's name
    created TEXT NOT NULL,           -- UTC, ISO 8601 with seconds: "2026-03-14T09:26:53Z"
    duration REAL NOT NULL,          -- seconds
    model TEXT NOT NULL,
    body TEXT NOT NULL,              -- the Transcript as JSON (text, words, segments, speakers): stored exactly
    speakers TEXT NOT NULL,          -- "S1, S2": for listing without parsing the body
    edited INTEGER NOT NULL DEFAULT 0,
    media TEXT REFERENCES media (sha256)
);
CREATE INDEX transcripts_created ON transcripts (created);
CREATE INDEX transcripts_media ON transcripts (media);

-- What search looks in: a transcript's segments (or its whole text when it has no timings), each with its words'
-- start times so a hit can say when the matching word is spoken.
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    transcript_id INTEGER NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    start REAL,                      -- NULL without timings
    text TEXT NOT NULL,
    words TEXT NOT NULL              -- JSON [[word, start], ...]; [] without timings
);
CREATE INDEX passages_transcript ON passages (transcript_id);

-- Case- and accent-insensitive (unicode61, diacritics removed), prefix indexes for 2- and 3-letter prefixes.
CREATE VIRTUAL TABLE passages_fts USING fts5 (
    text, content = 'passages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE TRIGGER passages_insert AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER passages_delete AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts (passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

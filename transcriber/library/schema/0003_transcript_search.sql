-- Schema 3: search ranks whole transcripts, not passages. Ranking a million passages for a word that occurs in
-- most of them took seconds in a library of 10,000 ten-minute recordings; ranking 10,000 transcripts takes
-- milliseconds. Passages stay: they place the hit (its snippet and the time of its word) inside the transcript.

CREATE VIRTUAL TABLE transcripts_fts USING fts5 (
    text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO transcripts_fts (rowid, text) SELECT id, json_extract(body, '$.text') FROM transcripts;
CREATE TRIGGER transcripts_delete AFTER DELETE ON transcripts BEGIN
    DELETE FROM transcripts_fts WHERE rowid = old.id;
END;

-- Schema 7: search finds a transcript by its name too ("smith interview", "2024-05"): the words of a name are rarely
-- spoken in the recording, and beyond the newest 500 the Library tab lists nothing else to find it by. The index of
-- whole transcripts gets the name, folded as the text is, as a column of its own (FTS5 tables take no new columns).

DROP TRIGGER transcripts_delete;
DROP TABLE transcripts_fts;
CREATE VIRTUAL TABLE transcripts_fts USING fts5 (
    name, text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO transcripts_fts (rowid, name, text)
    SELECT id, search_fold(name), search_fold(json_extract(body, '$.text')) FROM transcripts;
CREATE TRIGGER transcripts_delete AFTER DELETE ON transcripts BEGIN
    DELETE FROM transcripts_fts WHERE rowid = old.id;
END;

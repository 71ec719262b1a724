-- Schema 7: search finds a transcript by its name ("smith interview", "2024-05") and by its speakers' names ("Anna
-- Berg", given in the review view) too: neither is often spoken in the recording, and beyond the newest 500 the
-- Library tab lists nothing else to find a transcript by. The index of whole transcripts gets both, folded as the
-- text is, as columns of their own (an FTS5 table takes no new column: it is made again).

DROP TRIGGER transcripts_delete;
DROP TABLE transcripts_fts;
CREATE VIRTUAL TABLE transcripts_fts USING fts5 (
    name, speakers, text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO transcripts_fts (rowid, name, speakers, text)
    SELECT id, search_fold(name), search_fold(speakers), search_fold(json_extract(body, '$.text')) FROM transcripts;
CREATE TRIGGER transcripts_delete AFTER DELETE ON transcripts BEGIN
    DELETE FROM transcripts_fts WHERE rowid = old.id;
END;

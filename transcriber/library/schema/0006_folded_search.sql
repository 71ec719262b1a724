-- Schema 6: the search index holds every text folded by the app (search_fold: Python's casefold, compatibility
-- forms, accents removed), as the query's words are folded. SQLite's tokenizer only lower-cases, so "Straße" and
-- "strasse" (or a Greek word ending in "ς" and in "σ") never found each other, and a query typed with "ß" found
-- nothing at all. Passages get an index of their own folded text; hits' snippets are cut from the passages' own text.

DROP TRIGGER passages_insert;
DROP TRIGGER passages_delete;
DROP TABLE passages_fts;
CREATE VIRTUAL TABLE passages_fts USING fts5 (
    text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO passages_fts (rowid, text) SELECT id, search_fold(text) FROM passages;
CREATE TRIGGER passages_delete AFTER DELETE ON passages BEGIN
    DELETE FROM passages_fts WHERE rowid = old.id;
END;
DELETE FROM transcripts_fts;
INSERT INTO transcripts_fts (rowid, text) SELECT id, search_fold(json_extract(body, '$.text')) FROM transcripts;

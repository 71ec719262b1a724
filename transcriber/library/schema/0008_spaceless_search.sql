-- Schema 8: Japanese and Chinese are searched character by character. Written without spaces between words, a
-- sentence ("来週の会議は予算について話します") was one word to the index, so "予算" (budget) found nothing in it,
-- nor "メモ" in a transcript named "会議メモ". search_fold now puts a space around each kanji, hanzi and kana, as the
-- query's words are split; only the texts that hold one (search_spaceless) are indexed again.

CREATE TEMP TABLE spaceless_passages AS
    SELECT rowid AS id FROM passages_fts WHERE search_spaceless(text);
DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM spaceless_passages);
INSERT INTO passages_fts (rowid, text)
    SELECT id, search_fold(text) FROM passages WHERE id IN (SELECT id FROM spaceless_passages);
DROP TABLE spaceless_passages;
CREATE TEMP TABLE spaceless_transcripts AS
    SELECT rowid AS id FROM transcripts_fts WHERE search_spaceless(name || ' ' || speakers || ' ' || text);
DELETE FROM transcripts_fts WHERE rowid IN (SELECT id FROM spaceless_transcripts);
INSERT INTO transcripts_fts (rowid, name, speakers, text)
    SELECT id, search_fold(name), search_fold(speakers), search_fold(json_extract(body, '$.text')) FROM transcripts
    WHERE id IN (SELECT id FROM spaceless_transcripts);
DROP TABLE spaceless_transcripts;

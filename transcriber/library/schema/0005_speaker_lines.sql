-- Schema 5: transcripts.speakers holds the speakers one per line ("S1" newline "Smith, John"), since a name given in
-- the review view may hold ", " (names never hold a line break: they are single-spaced). Rows saved before are
-- rebuilt from their body, the transcript as JSON, whose "speakers" list is exact.

UPDATE transcripts SET speakers = coalesce(
    (SELECT group_concat(value, char(10))
     FROM (SELECT value FROM json_each(transcripts.body, '$.speakers') ORDER BY key)),
    ''
);

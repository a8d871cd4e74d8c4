"""Scripts that take a SQLite store back to an older schema, to test its migration on open."""

# Schema 4 as it was: new messages indexed and counted by insert triggers.
TO_SCHEMA_4 = """
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, subject)
    VALUES (new.rowid, fold(new.text), fold(new.subject));
END;
CREATE TRIGGER messages_public_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_public (rowid, text, subject) VALUES (new.rowid,
        fold(coalesce(new.public_text, new.text)), fold(coalesce(new.public_subject, new.subject)));
END;
CREATE TRIGGER message_facts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO message_facts VALUES (new.rowid, substr(new.created_at, 1, 10), new.channel,
        new.direction, new.sentiment, new.lang);
    INSERT INTO message_rollup VALUES (substr(new.created_at, 1, 10), new.channel,
        new.direction, ifnull(new.sentiment, ''), ifnull(new.lang, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO message_blocks VALUES (new.rowid >> 10, new.created_at, new.created_at)
        ON CONFLICT DO UPDATE SET newest = max(newest, excluded.newest),
                                  oldest = min(oldest, excluded.oldest);
END;
PRAGMA user_version=4;
"""

"""Scripts that take a SQLite store back to an older schema, to test its migration on open."""

from __future__ import annotations

import sqlite3

from search.sqlite import SqliteStore

# Schema 14 as it was: no backlog index.
TO_SCHEMA_14 = """
DROP INDEX conversations_backlog;
PRAGMA user_version=14;
"""
# Schema 13 as it was: no resolution pauses, no next responses.
TO_SCHEMA_13 = TO_SCHEMA_14 + """
ALTER TABLE conversations DROP COLUMN pending_since;
ALTER TABLE conversations DROP COLUMN paused_seconds;
ALTER TABLE conversations DROP COLUMN next_response_at;
ALTER TABLE conversations DROP COLUMN next_response_seconds;
ALTER TABLE conversations DROP COLUMN next_response_missed;
PRAGMA user_version=13;
"""
# Schema 12 as it was: no count of the customers' messages per hour.
TO_SCHEMA_12 = TO_SCHEMA_13 + """
DROP TRIGGER message_hours_ad;
DROP TRIGGER message_hours_au;
DROP TABLE message_hours;
PRAGMA user_version=12;
"""
# Schema 11 as it was: FTS5's own tokenizer over folded text, the full index reading the
# messages' text (its content table), the vocabularies of the public one.
TO_SCHEMA_11 = TO_SCHEMA_12 + """
DROP TRIGGER messages_ad;
DROP TRIGGER messages_au;
DROP TABLE messages_fts;
DROP TABLE messages_public;
DROP TABLE store_meta;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, subject, content='messages', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, subject)
    VALUES ('delete', old.rowid, fold(old.text), fold(old.subject));
    DELETE FROM message_keys WHERE message_rowid = old.rowid;
END;
CREATE TRIGGER messages_au AFTER UPDATE OF text, subject ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, subject)
    VALUES ('delete', old.rowid, fold(old.text), fold(old.subject));
    INSERT INTO messages_fts (rowid, text, subject)
    VALUES (new.rowid, fold(new.text), fold(new.subject));
END;
CREATE VIRTUAL TABLE messages_public USING fts5 (
    text, subject, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_public_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_public (messages_public, rowid, text, subject) VALUES ('delete',
        old.rowid, fold(coalesce(old.public_text, old.text)),
        fold(coalesce(old.public_subject, old.subject)));
END;
CREATE TRIGGER messages_public_au
AFTER UPDATE OF text, subject, public_text, public_subject ON messages BEGIN
    INSERT INTO messages_public (messages_public, rowid, text, subject) VALUES ('delete',
        old.rowid, fold(coalesce(old.public_text, old.text)),
        fold(coalesce(old.public_subject, old.subject)));
    INSERT INTO messages_public (rowid, text, subject) VALUES (new.rowid,
        fold(coalesce(new.public_text, new.text)), fold(coalesce(new.public_subject, new.subject)));
END;
INSERT INTO messages_public (rowid, text, subject)
    SELECT rowid, coalesce(public_text, text), coalesce(public_subject, subject) FROM messages;
CREATE VIRTUAL TABLE public_vocab USING fts5vocab (messages_public, 'row');
CREATE VIRTUAL TABLE public_words USING fts5vocab (messages_public, 'instance');
PRAGMA user_version=11;
"""
# Schema 10 as it was: facts and rollup without the automated flag.
TO_SCHEMA_10 = TO_SCHEMA_11 + """
DROP TRIGGER message_facts_ad;
DROP TRIGGER message_facts_au;
ALTER TABLE message_facts DROP COLUMN automated;
DROP TABLE message_rollup;
CREATE TABLE message_rollup (
    day TEXT NOT NULL, channel TEXT NOT NULL, direction TEXT NOT NULL, sentiment TEXT NOT NULL,
    lang TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, channel, direction, sentiment, lang)) WITHOUT ROWID;
INSERT INTO message_rollup
    SELECT day, channel, direction, ifnull(sentiment, ''), ifnull(lang, ''), count(*)
    FROM message_facts GROUP BY 1, 2, 3, 4, 5;
CREATE TRIGGER message_facts_ad AFTER DELETE ON messages BEGIN
    DELETE FROM message_facts WHERE rowid = old.rowid;
    UPDATE message_rollup SET n = n - 1 WHERE day = substr(old.created_at, 1, 10)
        AND channel = old.channel AND direction = old.direction
        AND sentiment = ifnull(old.sentiment, '') AND lang = ifnull(old.lang, '');
END;
CREATE TRIGGER message_facts_au
AFTER UPDATE OF created_at, channel, direction, sentiment, lang ON messages BEGIN
    UPDATE message_facts SET day = substr(new.created_at, 1, 10), channel = new.channel,
        direction = new.direction, sentiment = new.sentiment, lang = new.lang
        WHERE rowid = new.rowid;
    UPDATE message_rollup SET n = n - 1 WHERE day = substr(old.created_at, 1, 10)
        AND channel = old.channel AND direction = old.direction
        AND sentiment = ifnull(old.sentiment, '') AND lang = ifnull(old.lang, '');
    INSERT INTO message_rollup VALUES (substr(new.created_at, 1, 10), new.channel,
        new.direction, ifnull(new.sentiment, ''), ifnull(new.lang, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO message_blocks VALUES (new.rowid >> 10, new.created_at, new.created_at)
        ON CONFLICT DO UPDATE SET newest = max(newest, excluded.newest),
                                  oldest = min(oldest, excluded.oldest);
END;
PRAGMA user_version=10;
"""
# Schema 9 as it was: no index for the queue's "oldest waiting" order.
TO_SCHEMA_9 = TO_SCHEMA_10 + """
DROP INDEX conversations_waiting;
PRAGMA user_version=9;
"""
# Schema 8 as it was: conversations without the one they were merged into.
TO_SCHEMA_8 = TO_SCHEMA_9 + """
ALTER TABLE conversations DROP COLUMN merged_into;
PRAGMA user_version=8;
"""
# Schema 7 as it was: conversations without the sentiment and language of their latest
# customer message.
TO_SCHEMA_7 = TO_SCHEMA_8 + """
DROP INDEX conversations_lang;
DROP INDEX conversations_priority;
ALTER TABLE conversations DROP COLUMN sentiment;
ALTER TABLE conversations DROP COLUMN lang;
PRAGMA user_version=7;
"""
# Schema 6 as it was: conversations without their wake-up time.
TO_SCHEMA_6 = TO_SCHEMA_7 + """
DROP INDEX conversations_wake;
ALTER TABLE conversations DROP COLUMN snoozed_until;
PRAGMA user_version=6;
"""
# Schema 5 as it was: conversations without their human reference.
TO_SCHEMA_5 = TO_SCHEMA_6 + """
DROP INDEX conversations_ref;
ALTER TABLE conversations DROP COLUMN ref;
PRAGMA user_version=5;
"""
# Schema 4 as it was: new messages indexed and counted by insert triggers.
TO_SCHEMA_4 = TO_SCHEMA_5 + """
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


async def reopened_at(store: SqliteStore, script: str) -> SqliteStore:
    """`store` closed, its file taken back by `script`, and opened again (migrating it)."""
    await store.aclose()
    with sqlite3.connect(store.path) as conn:
        conn.executescript(script)
    again = SqliteStore(store.path)
    await again.open()
    return again

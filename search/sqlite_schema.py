"""The SQLite store's schema, and the migrations that bring an older file to it."""

from __future__ import annotations

import logging
import sqlite3

from inbox import analysis
from inbox.errors import ConflictError
from inbox.privacy import public_copy

log = logging.getLogger(__name__)
SCHEMA_VERSION = 15

SCHEMA = """
CREATE TABLE customers (
    id TEXT PRIMARY KEY, name TEXT, created_at TEXT NOT NULL, merged_into TEXT,
    version INTEGER NOT NULL);
CREATE TABLE identities (
    kind TEXT NOT NULL, value TEXT NOT NULL, customer_id TEXT NOT NULL, label TEXT,
    created_at TEXT NOT NULL, PRIMARY KEY (kind, value)) WITHOUT ROWID;
CREATE INDEX identities_customer ON identities (customer_id);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_message_at TEXT NOT NULL,
    subject TEXT, assignee TEXT, tags TEXT NOT NULL, priority TEXT NOT NULL,
    message_count INTEGER NOT NULL, awaiting_since TEXT, first_response_at TEXT, due_at TEXT,
    due_basis TEXT, first_response_seconds REAL, first_response_breached INTEGER,
    resolved_at TEXT, resolution_seconds REAL, previous_id TEXT, switched_channel INTEGER,
    version INTEGER NOT NULL);
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_status ON conversations (status, last_message_at DESC, id DESC);
CREATE INDEX conversations_assignee ON conversations (assignee, last_message_at DESC, id DESC);
CREATE INDEX conversations_customer ON conversations (customer_id, last_message_at DESC);
CREATE INDEX conversations_due ON conversations (due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX conversations_created ON conversations (created_at);
CREATE TABLE messages (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL, external_id TEXT NOT NULL, direction TEXT NOT NULL, text TEXT NOT NULL,
    created_at TEXT NOT NULL, received_at TEXT NOT NULL, customer_id TEXT, author_label TEXT,
    author_keys TEXT NOT NULL, subject TEXT, html TEXT, quoted TEXT, lang TEXT, sentiment TEXT,
    sentiment_score REAL, automated INTEGER NOT NULL, revision TEXT, agent TEXT, delivery TEXT,
    attachments TEXT NOT NULL, meta TEXT NOT NULL);
CREATE UNIQUE INDEX messages_external ON messages (channel, external_id);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at, id);
CREATE INDEX messages_customer ON messages (customer_id, created_at DESC, id DESC);
CREATE INDEX messages_recent ON messages (created_at DESC, id DESC);
CREATE INDEX messages_outbox ON messages (delivery) WHERE delivery IN ('pending', 'failed');
CREATE TABLE message_keys (
    key TEXT NOT NULL, message_rowid INTEGER NOT NULL, PRIMARY KEY (key, message_rowid))
    WITHOUT ROWID;
CREATE INDEX message_keys_message ON message_keys (message_rowid);
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, subject, content='messages', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, subject)
    VALUES (new.rowid, fold(new.text), fold(new.subject));
END;
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
CREATE VIRTUAL TABLE messages_vocab USING fts5vocab (messages_fts, 'row');
CREATE VIRTUAL TABLE messages_words USING fts5vocab (messages_fts, 'instance');
CREATE TABLE thread_keys (key TEXT PRIMARY KEY, conversation_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE kv (
    collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (collection, key)) WITHOUT ROWID;
"""

# Schema 2: the public copy of text and subject (inbox.privacy.public_copy: contacts gone),
# indexed apart for who may not see contacts, and the source of trending words. Kept in
# the row only where it differs from the text (NULL otherwise), so the index removes
# exactly what it added even if public_copy changes in a later version (which recomputes
# the old rows in a migration of its own, as this one does).
PUBLIC_INDEX = """
ALTER TABLE messages ADD COLUMN public_text TEXT;
ALTER TABLE messages ADD COLUMN public_subject TEXT;
UPDATE messages SET public_text = nullif(public_copy(text), text),
                    public_subject = nullif(public_copy(subject), subject);
CREATE VIRTUAL TABLE messages_public USING fts5 (
    text, subject, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_public_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_public (rowid, text, subject) VALUES (new.rowid,
        fold(coalesce(new.public_text, new.text)), fold(coalesce(new.public_subject, new.subject)));
END;
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
    SELECT rowid, fold(coalesce(public_text, text)), fold(coalesce(public_subject, subject))
    FROM messages;
DROP TABLE messages_vocab;
DROP TABLE messages_words;
CREATE VIRTUAL TABLE public_vocab USING fts5vocab (messages_public, 'row');
CREATE VIRTUAL TABLE public_words USING fts5vocab (messages_public, 'instance');
"""
# Schema 3: what searches at a million messages read instead of the wide message rows,
# kept by triggers in the same transaction as the messages (search/sqlite_index.py):
# - message_facts: per message (same rowid) its UTC day and the facet fields, about 30
#   bytes a row, so counting facets and days over word matches reads no message row;
# - message_rollup: the number of messages per day and facet values ('' for none), so a
#   query of those fields alone (or none) is counted without reading any message;
# - message_blocks: the newest and oldest created_at among the rowids of each block of
#   1024, so the newest matches are found by reading rowids from the top down, stopping
#   once no lower block can hold a newer one (and skipping, for a later page, the blocks
#   that hold only newer ones).
FACTS = """
CREATE TABLE message_facts (
    rowid INTEGER PRIMARY KEY, day TEXT NOT NULL, channel TEXT NOT NULL,
    direction TEXT NOT NULL, sentiment TEXT, lang TEXT);
CREATE TABLE message_rollup (
    day TEXT NOT NULL, channel TEXT NOT NULL, direction TEXT NOT NULL, sentiment TEXT NOT NULL,
    lang TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, channel, direction, sentiment, lang)) WITHOUT ROWID;
CREATE TABLE message_blocks (
    block INTEGER PRIMARY KEY, newest TEXT NOT NULL, oldest TEXT NOT NULL);
INSERT INTO message_facts
    SELECT rowid, substr(created_at, 1, 10), channel, direction, sentiment, lang FROM messages;
INSERT INTO message_rollup
    SELECT day, channel, direction, ifnull(sentiment, ''), ifnull(lang, ''), count(*)
    FROM message_facts GROUP BY 1, 2, 3, 4, 5;
INSERT INTO message_blocks
    SELECT rowid >> 10, max(created_at), min(created_at) FROM messages GROUP BY 1;
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
"""
# Schema 4: the conversations the store wrote, by rowid, in order (search.sqlite_sla.
# log_written, in the same transaction): the SLA report keeps its fields in memory and reads
# only the conversations written since its last report. A table the writer fills rather
# than triggers: a trigger on conversations makes every write keep a statement journal,
# +17 us per conversation written (+1.6 us this way).
SLA_LOG = """
CREATE TABLE sla_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, conversation INTEGER NOT NULL);
"""
# Schema 5: new messages are indexed and counted by the writer (search.sqlite_repository
# _NewMessages), a batch's in one statement per table after its rows, rather than by
# insert triggers: a trigger's statement makes FTS5 write a segment of its own per message
# (about 70% of a message write), and the facts trigger cost 40% of what remained.
# Updates and deletes keep their triggers.
WRITER_INDEXES = """
DROP TRIGGER messages_ai;
DROP TRIGGER messages_public_ai;
DROP TRIGGER message_facts_ai;
"""
# Schema 6: each conversation's human reference ("#10482", inbox.store.REF_START), unique;
# the writer gives the next one (search.sqlite_repository.write_batch). Conversations that
# were there get theirs in the order they came.
REFS = """
ALTER TABLE conversations ADD COLUMN ref INTEGER;
UPDATE conversations SET ref = rowid + 10000;
CREATE UNIQUE INDEX conversations_ref ON conversations (ref);
"""
# Schema 7: when a snoozed conversation wakes (inbox.model.Status.SNOOZED), and the index
# the wake-up sweep reads (the snoozed ones, the first to wake first).
SNOOZE = """
ALTER TABLE conversations ADD COLUMN snoozed_until TEXT;
CREATE INDEX conversations_wake ON conversations (snoozed_until, id)
    WHERE snoozed_until IS NOT NULL;
"""
# Schema 8: the sentiment and language of the customer's latest message on each
# conversation (the queue filters on them; ingest keeps them), taken from the messages in
# one pass: the latest customer message of each conversation (a grouped read of the
# messages, max() picking the row), written where it has either. About 4 s at 1M messages
# (670k conversations), the two indexes 2 s more: a rare language or priority (nl, urgent)
# took 0.5-0.9 s to find among the open conversations without them, well under 1 ms with
# them. Sentiment has three common values: the status index finds them at once.
MOOD = """
ALTER TABLE conversations ADD COLUMN sentiment TEXT;
ALTER TABLE conversations ADD COLUMN lang TEXT;
UPDATE conversations SET sentiment = latest.sentiment, lang = latest.lang
FROM (SELECT conversation_id, sentiment, lang, max(created_at) FROM messages
      WHERE direction = 'inbound' AND automated = 0 GROUP BY conversation_id) AS latest
WHERE conversations.id = latest.conversation_id
  AND (latest.sentiment IS NOT NULL OR latest.lang IS NOT NULL);
CREATE INDEX conversations_lang ON conversations (lang, status, last_message_at DESC, id DESC);
CREATE INDEX conversations_priority
    ON conversations (priority, status, last_message_at DESC, id DESC);
"""
# Schema 9: the conversation a merged one was merged into (inbox.conversation_merge).
CONVERSATION_MERGES = """
ALTER TABLE conversations ADD COLUMN merged_into TEXT;
"""
# Schema 10: the queue's "oldest waiting" order. Sorting the open conversations by when
# their customer started waiting took 0.6 s at 670k conversations (the status index, then a
# sort of every open one); walking this index takes under 1 ms.
WAITING = """
CREATE INDEX conversations_waiting ON conversations (awaiting_since, id)
    WHERE awaiting_since IS NOT NULL;
"""
# Schema 11: the voice of the customer counts customers' own messages, not auto-replies and
# bounces (Message.automated): the facts and the rollup keep the flag, so the VoC's counts of
# inbound human messages still come from them. The rollup is rebuilt with the flag in its
# key (about 1 s at 1M messages), and the triggers that keep both count it.
AUTOMATED = """
ALTER TABLE message_facts ADD COLUMN automated INTEGER NOT NULL DEFAULT 0;
UPDATE message_facts SET automated = 1
    WHERE rowid IN (SELECT rowid FROM messages WHERE automated);
DROP TRIGGER message_facts_ad;
DROP TRIGGER message_facts_au;
DROP TABLE message_rollup;
CREATE TABLE message_rollup (
    day TEXT NOT NULL, channel TEXT NOT NULL, direction TEXT NOT NULL, sentiment TEXT NOT NULL,
    lang TEXT NOT NULL, automated INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, channel, direction, sentiment, lang, automated)) WITHOUT ROWID;
INSERT INTO message_rollup
    SELECT day, channel, direction, ifnull(sentiment, ''), ifnull(lang, ''), automated, count(*)
    FROM message_facts GROUP BY 1, 2, 3, 4, 5, 6;
CREATE TRIGGER message_facts_ad AFTER DELETE ON messages BEGIN
    DELETE FROM message_facts WHERE rowid = old.rowid;
    UPDATE message_rollup SET n = n - 1 WHERE day = substr(old.created_at, 1, 10)
        AND channel = old.channel AND direction = old.direction
        AND sentiment = ifnull(old.sentiment, '') AND lang = ifnull(old.lang, '')
        AND automated = old.automated;
END;
CREATE TRIGGER message_facts_au
AFTER UPDATE OF created_at, channel, direction, sentiment, lang, automated ON messages BEGIN
    UPDATE message_facts SET day = substr(new.created_at, 1, 10), channel = new.channel,
        direction = new.direction, sentiment = new.sentiment, lang = new.lang,
        automated = new.automated WHERE rowid = new.rowid;
    UPDATE message_rollup SET n = n - 1 WHERE day = substr(old.created_at, 1, 10)
        AND channel = old.channel AND direction = old.direction
        AND sentiment = ifnull(old.sentiment, '') AND lang = ifnull(old.lang, '')
        AND automated = old.automated;
    INSERT INTO message_rollup VALUES (substr(new.created_at, 1, 10), new.channel,
        new.direction, ifnull(new.sentiment, ''), ifnull(new.lang, ''), new.automated, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO message_blocks VALUES (new.rowid >> 10, new.created_at, new.created_at)
        ON CONFLICT DO UPDATE SET newest = max(newest, excluded.newest),
                                  oldest = min(oldest, excluded.oldest);
END;
"""
# Schema 12: the word indexes hold what inbox.analysis makes of each text (words, stems,
# joined hyphenated words, CJK characters and emoji, folded the same way as on
# Elasticsearch): FTS5's `ascii` tokenizer only splits them at spaces. Contentless, so the
# messages' text is not kept twice; each index has a third column, the extras, so they
# never come between the words of a phrase. The indexes are filled (and refilled whenever
# the analysis changes: a new stemmer or Unicode version) by `analysed` on open.
_WORDS = "words({t}text, {t}lang), words({t}subject, {t}lang), extras({t}text, {t}subject, {t}lang)"
_PUBLIC = ("words(coalesce({t}public_text, {t}text), {t}lang), "
           "words(coalesce({t}public_subject, {t}subject), {t}lang), "
           "extras(coalesce({t}public_text, {t}text), coalesce({t}public_subject, {t}subject), "
           "{t}lang)")
_COLUMNS = "rowid, text, subject, extra"
ANALYSED = f"""
DROP TRIGGER messages_ad;
DROP TRIGGER messages_au;
DROP TRIGGER messages_public_ad;
DROP TRIGGER messages_public_au;
DROP TABLE public_vocab;
DROP TABLE public_words;
DROP TABLE messages_fts;
DROP TABLE messages_public;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, subject, extra, content='', tokenize="ascii tokenchars ':'");
CREATE VIRTUAL TABLE messages_public USING fts5 (
    text, subject, extra, content='', tokenize="ascii tokenchars ':'");
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, {_COLUMNS})
        VALUES ('delete', old.rowid, {_WORDS.format(t="old.")});
    INSERT INTO messages_public (messages_public, {_COLUMNS})
        VALUES ('delete', old.rowid, {_PUBLIC.format(t="old.")});
    DELETE FROM message_keys WHERE message_rowid = old.rowid;
END;
CREATE TRIGGER messages_au
AFTER UPDATE OF text, subject, public_text, public_subject, lang ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, {_COLUMNS})
        VALUES ('delete', old.rowid, {_WORDS.format(t="old.")});
    INSERT INTO messages_public (messages_public, {_COLUMNS})
        VALUES ('delete', old.rowid, {_PUBLIC.format(t="old.")});
    INSERT INTO messages_fts ({_COLUMNS}) VALUES (new.rowid, {_WORDS.format(t="new.")});
    INSERT INTO messages_public ({_COLUMNS}) VALUES (new.rowid, {_PUBLIC.format(t="new.")});
END;
"""
# Schema 13: the customers' own messages (inbound, not automated) per UTC hour, for the
# report's heat map of volume by hour of the week: a month is 720 rows, not a million messages.
# The writer counts new messages (search.sqlite_repository._NewMessages); triggers follow
# updates and deletes; the migration counts the messages there were (about 1 s at 1M).
_CUSTOMERS = "{t}direction = 'inbound' AND {t}automated = 0"
HOURS = f"""
CREATE TABLE message_hours (hour TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO message_hours
    SELECT substr(created_at, 1, 13), count(*) FROM messages WHERE {_CUSTOMERS.format(t="")}
    GROUP BY 1;
CREATE TRIGGER message_hours_ad AFTER DELETE ON messages
WHEN {_CUSTOMERS.format(t="old.")} BEGIN
    UPDATE message_hours SET n = n - 1 WHERE hour = substr(old.created_at, 1, 13);
END;
CREATE TRIGGER message_hours_au AFTER UPDATE OF created_at, direction, automated ON messages
BEGIN
    UPDATE message_hours SET n = n - 1
        WHERE hour = substr(old.created_at, 1, 13) AND {_CUSTOMERS.format(t="old.")};
    INSERT INTO message_hours SELECT substr(new.created_at, 1, 13), 1
        WHERE {_CUSTOMERS.format(t="new.")} ON CONFLICT DO UPDATE SET n = n + 1;
END;
"""
# Schema 14: resolution paused while waiting on the customer, and the responses after the
# first (inbox.sla): new columns with their empty values, nothing to compute for old rows
# (a conversation pending at the upgrade starts its pause at the next status change).
PAUSES = """
ALTER TABLE conversations ADD COLUMN pending_since TEXT;
ALTER TABLE conversations ADD COLUMN paused_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN next_response_at TEXT NOT NULL DEFAULT '[]';
ALTER TABLE conversations ADD COLUMN next_response_seconds TEXT NOT NULL DEFAULT '[]';
ALTER TABLE conversations ADD COLUMN next_response_missed TEXT NOT NULL DEFAULT '[]';
"""
# Schema 15: the backlog by channel and age (Index.backlog) counts ranges of this index
# alone: 30 ms at 612k open conversations waiting, against 0.5-0.7 s reading their rows.
BACKLOG = """
CREATE INDEX conversations_backlog ON conversations (channel, awaiting_since)
    WHERE awaiting_since IS NOT NULL AND status = 'open';
"""
ANALYSIS = f"{analysis.VERSION}/{analysis.ENGINE}"  # what the word indexes were filled by
_REFILL = f"""
INSERT INTO messages_fts (messages_fts) VALUES ('delete-all');
INSERT INTO messages_public (messages_public) VALUES ('delete-all');
INSERT INTO messages_fts ({_COLUMNS}) SELECT rowid, {_WORDS.format(t="")} FROM messages;
INSERT INTO messages_public ({_COLUMNS}) SELECT rowid, {_PUBLIC.format(t="")} FROM messages;
"""
# Schema version -> the script that brings the previous one to it (a new store runs all).
MIGRATIONS = {1: SCHEMA, 2: PUBLIC_INDEX, 3: FACTS, 4: SLA_LOG, 5: WRITER_INDEXES, 6: REFS,
              7: SNOOZE, 8: MOOD, 9: CONVERSATION_MERGES, 10: WAITING,
              11: AUTOMATED, 12: ANALYSED, 13: HOURS, 14: PAUSES, 15: BACKLOG}


def migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ConflictError(f"the store was written by a newer version (schema {version}); "
                            "upgrade unified-inbox")
    conn.create_function("public_copy", 1, public_copy, deterministic=True)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        try:
            conn.executescript(f"BEGIN; {MIGRATIONS[target]} PRAGMA user_version={target}; "
                               "COMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    analysed(conn)


def analysed(conn: sqlite3.Connection) -> None:
    """Fill the word indexes again when the analysis changed since they were filled (or
    never were): they must delete a message's words as they were added. About a minute
    per million messages."""
    found = conn.execute("SELECT value FROM store_meta WHERE key = 'analysis'").fetchone()
    if found is not None and found[0] == ANALYSIS:
        return
    if found is not None or conn.execute("SELECT 1 FROM messages LIMIT 1").fetchone():
        log.warning("indexing the messages' words again", extra={"analysis": ANALYSIS})
    conn.executescript(f"BEGIN; {_REFILL} INSERT INTO store_meta VALUES ('analysis', "
                       f"'{ANALYSIS}') ON CONFLICT DO UPDATE SET value = excluded.value; COMMIT;")

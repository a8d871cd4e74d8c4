"""Scripts that take a SQLite store back to an older schema, to test its migration on open."""

# Schema 4 as it was: new messages indexed by insert triggers.
TO_SCHEMA_4 = """
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, subject)
    VALUES (new.rowid, fold(new.text), fold(new.subject));
END;
CREATE TRIGGER messages_public_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_public (rowid, text, subject) VALUES (new.rowid,
        fold(coalesce(new.public_text, new.text)), fold(coalesce(new.public_subject, new.subject)));
END;
PRAGMA user_version=4;
"""

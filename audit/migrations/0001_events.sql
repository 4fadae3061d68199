-- 0001: the append-only, hash-chained event log.
--
-- Every column of actions.Event has a column here, plus the chain: each row
-- carries the hash of the row before it (prev_hash) and its own hash over
-- every other column, so a changed, removed or reordered row is detectable.
-- The tables are STRICT so a value can never silently change type.

-- Marks the file as a ulc audit log ("ulcA"), so Open can refuse to write
-- its tables into some other application's SQLite database.
PRAGMA application_id = 1970037569;

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    run_id      TEXT    NOT NULL,
    "time"      TEXT    NOT NULL, -- RFC 3339 with nanoseconds, UTC: hashed as stored
    kind        TEXT    NOT NULL,
    step        INTEGER NOT NULL,
    "user"      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    "action"    TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    latency_ms  INTEGER NOT NULL,
    "error"     TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    error_code  TEXT    NOT NULL,
    error_id    TEXT    NOT NULL,
    detail      TEXT    NOT NULL, -- the JSON bytes exactly as recorded, '' for none
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
) STRICT;

CREATE INDEX events_run_id ON events (run_id);
CREATE INDEX events_user ON events ("user");
CREATE INDEX events_kind ON events (kind);

-- The log never updates or deletes a row: a run's state is derived from its
-- events. The triggers make an accidental (or casual) edit fail loudly; a
-- deliberate one that drops them is what the hash chain is for.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

-- The migration history is evidence too (which schema wrote which rows).
CREATE TRIGGER schema_migrations_no_update BEFORE UPDATE ON schema_migrations
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER schema_migrations_no_delete BEFORE DELETE ON schema_migrations
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

-- 0002: how far each SIEM destination has received the log.
--
-- The events table is the outbox: forwarding reads it in seq order and
-- records here, per [[forward]] destination, the last event delivered (its
-- seq and hash). The table is bookkeeping, not evidence: it is outside the
-- hash chain, rows are updated in place, and losing it only means events
-- are delivered again (each carries its seq and hash, so a SIEM can drop
-- the duplicates).
CREATE TABLE forward_cursor (
    name       TEXT    PRIMARY KEY,
    seq        INTEGER NOT NULL,
    hash       TEXT    NOT NULL,
    updated_at TEXT    NOT NULL -- RFC 3339, UTC
) STRICT;

-- The gateway's own tables in a PostgreSQL owner. Record tables are per
-- contract (`table:` in contract.yaml) and created when contracts load.

-- Change events, written in the same transaction as the record they
-- describe. `seq` is insertion order only; `position`, the change feed's
-- cursor, is given after commit (see src/systems/journal.rs).
CREATE TABLE contractgate_outbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    contract     TEXT    NOT NULL,
    record_key   TEXT    NOT NULL,
    revision     BIGINT  NOT NULL,
    event        TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    relayed_at   TEXT,
    position     BIGINT UNIQUE
);
CREATE INDEX contractgate_outbox_unsequenced ON contractgate_outbox (seq) WHERE position IS NULL;
CREATE INDEX contractgate_outbox_unrelayed ON contractgate_outbox (position) WHERE relayed_at IS NULL;

-- One row: the last position given, and which relay holds the lease to
-- publish events (one relay at a time keeps per-key order).
CREATE TABLE contractgate_feed (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    last_position     BIGINT NOT NULL,
    relay_holder      TEXT,
    relay_lease_until BIGINT
);
INSERT INTO contractgate_feed (id, last_position) VALUES (1, 0);

-- The gateway's own tables in an SQLite owner. Record tables are per
-- contract (`table:` in contract.yaml) and created when contracts load.

-- Change events, written in the same transaction as the record they
-- describe; `seq` orders the change feed.
CREATE TABLE contractgate_outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    contract     TEXT    NOT NULL,
    record_key   TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    relayed_at   TEXT
);

CREATE INDEX contractgate_outbox_unrelayed ON contractgate_outbox (seq) WHERE relayed_at IS NULL;

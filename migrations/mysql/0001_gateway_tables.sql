-- The gateway's own tables in a MySQL or MariaDB owner. Record tables are
-- per contract (`table:` in contract.yaml) and created when contracts load.

-- Change events, written in the same transaction as the record they
-- describe. `seq` is insertion order only; `position`, the change feed's
-- cursor, is given after commit (see src/systems/journal.rs).
CREATE TABLE contractgate_outbox (
    seq          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id           VARCHAR(64)  NOT NULL UNIQUE,
    contract     VARCHAR(64)  NOT NULL,
    record_key   VARCHAR(512) NOT NULL,
    revision     BIGINT       NOT NULL,
    event        LONGTEXT     NOT NULL,
    created_at   VARCHAR(64)  NOT NULL,
    relayed_at   VARCHAR(64),
    position     BIGINT UNIQUE,
    INDEX contractgate_outbox_position_seq (position, seq)
) ENGINE = InnoDB;

-- One row: the last position given, and which relay holds the lease to
-- publish events (one relay at a time keeps per-key order).
CREATE TABLE contractgate_feed (
    id                INTEGER PRIMARY KEY,
    last_position     BIGINT NOT NULL,
    relay_holder      VARCHAR(64),
    relay_lease_until BIGINT
) ENGINE = InnoDB;
INSERT INTO contractgate_feed (id, last_position) VALUES (1, 0);

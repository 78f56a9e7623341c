-- The change feed's cursor and the relay's claims. `position` is given to
-- an event after its transaction committed, by a serialized sequencing step
-- (see src/systems/journal.rs for why `seq` cannot be the cursor).
ALTER TABLE contractgate_outbox ADD COLUMN position INTEGER;
CREATE UNIQUE INDEX contractgate_outbox_position ON contractgate_outbox (position);
CREATE INDEX contractgate_outbox_unsequenced ON contractgate_outbox (seq) WHERE position IS NULL;

-- One row: the last position given, and which relay holds the lease to
-- publish events (one relay at a time keeps per-key order).
CREATE TABLE contractgate_feed (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    last_position     INTEGER NOT NULL,
    relay_holder      TEXT,
    relay_lease_until INTEGER
);
INSERT INTO contractgate_feed (id, last_position) VALUES (1, 0);

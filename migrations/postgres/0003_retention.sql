-- Retention (src/systems/journal.rs): when each event entered the change
-- feed, in epoch milliseconds, given with its position; and the last
-- position deleted, so a cursor older than that is answered "expired"
-- rather than silently skipping the deleted events.
ALTER TABLE contractgate_outbox ADD COLUMN sequenced_at BIGINT;
ALTER TABLE contractgate_feed ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;

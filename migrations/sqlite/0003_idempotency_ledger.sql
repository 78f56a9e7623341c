-- The idempotency ledger: what a write under an `Idempotency-Key` answered,
-- inserted in the write's own transaction, kept until `expires_at` (Unix
-- epoch milliseconds) so that a retry with the same key gets the same
-- answer. Keys are scoped per contract; the primary key is what makes two
-- writes racing on one key commit only once.
CREATE TABLE contractgate_idempotency (
    contract        TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL,
    record_key      TEXT    NOT NULL,
    revision        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    response        TEXT,
    created_at      TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (contract, idempotency_key)
);
CREATE INDEX contractgate_idempotency_expiry ON contractgate_idempotency (expires_at);

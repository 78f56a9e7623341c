-- The idempotency ledger: what a write under an `Idempotency-Key` answered,
-- inserted in the write's own transaction, kept until `expires_at` (Unix
-- epoch milliseconds) so that a retry with the same key gets the same
-- answer. Keys are scoped per contract; the primary key is what makes two
-- writes racing on one key (from two gateway instances) commit only once.
-- The key columns compare bytes: the default collation ignores case, and
-- `k` and `K` are two keys.
CREATE TABLE contractgate_idempotency (
    contract        VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    fingerprint     VARCHAR(64)  NOT NULL,
    record_key      VARCHAR(512) NOT NULL,
    revision        BIGINT       NOT NULL,
    event_type      VARCHAR(16)  NOT NULL,
    response        LONGTEXT,
    created_at      VARCHAR(64)  NOT NULL,
    expires_at      BIGINT       NOT NULL,
    PRIMARY KEY (contract, idempotency_key),
    INDEX contractgate_idempotency_expiry (expires_at)
) ENGINE = InnoDB;

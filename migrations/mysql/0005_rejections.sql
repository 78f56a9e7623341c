-- Rejected writes of contracts with `rejections: keep`, PII redacted,
-- bounded per contract by count and age (`rejections:` in the config).
-- `kept_at_ms` (epoch milliseconds) is what the age bound compares.
CREATE TABLE contractgate_rejections (
    seq         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    contract    VARCHAR(64)  NOT NULL,
    version     BIGINT       NOT NULL,
    caller      VARCHAR(255) NOT NULL,
    violations  LONGTEXT     NOT NULL,
    payload     LONGTEXT     NOT NULL,
    kept_at     VARCHAR(64)  NOT NULL,
    kept_at_ms  BIGINT       NOT NULL,
    INDEX contractgate_rejections_contract (contract, seq)
) ENGINE = InnoDB;

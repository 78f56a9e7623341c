-- Rejected writes of contracts with `rejections: keep`, PII redacted,
-- bounded per contract by count and age (`rejections:` in the config).
-- `kept_at_ms` (epoch milliseconds) is what the age bound compares.
CREATE TABLE contractgate_rejections (
    seq         BIGSERIAL PRIMARY KEY,
    contract    TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    caller      TEXT    NOT NULL,
    violations  TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    kept_at     TEXT    NOT NULL,
    kept_at_ms  BIGINT  NOT NULL
);
CREATE INDEX contractgate_rejections_contract ON contractgate_rejections (contract, seq);

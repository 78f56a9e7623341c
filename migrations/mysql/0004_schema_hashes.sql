-- The canonical schema hash of every contract version this database's
-- gateway served. A published version is immutable: a start-up offering a
-- recorded version under another hash is refused (Journal::pin_schemas).
CREATE TABLE contractgate_schema_hashes (
    contract        VARCHAR(64)  NOT NULL,
    version         BIGINT       NOT NULL,
    hash            VARCHAR(128) NOT NULL,
    first_served_at VARCHAR(64)  NOT NULL,
    PRIMARY KEY (contract, version)
) ENGINE = InnoDB;

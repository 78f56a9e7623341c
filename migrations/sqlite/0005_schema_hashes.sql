-- The canonical schema hash of every contract version this database's
-- gateway served. A published version is immutable: a start-up offering a
-- recorded version under another hash is refused (Journal::pin_schemas).
CREATE TABLE contractgate_schema_hashes (
    contract        TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    hash            TEXT    NOT NULL,
    first_served_at TEXT    NOT NULL,
    PRIMARY KEY (contract, version)
);

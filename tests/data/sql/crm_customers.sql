-- A table the CRM team already has: typed columns, NOT NULL, a CHECK the
-- contract does not know about (no `bronze` tier), and its own revision
-- column. Valid on SQLite, PostgreSQL and MariaDB.
CREATE TABLE crm_customers (
    customer_id    VARCHAR(64)  NOT NULL PRIMARY KEY,
    row_version    BIGINT       NOT NULL,
    full_name      VARCHAR(200) NOT NULL,
    email          VARCHAR(200) NOT NULL,
    tier           VARCHAR(20)  NOT NULL CHECK (tier IN ('standard', 'gold', 'platinum')),
    loyalty_points INTEGER
)

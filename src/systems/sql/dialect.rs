//! What differs between SQL engines, and nothing else: the SQL owner's one
//! write procedure reads its statements and error codes from here. The
//! procedure runs on sqlx's `Any` driver, so it is one piece of code for
//! every engine; a dialect only spells.

use sqlx::error::{DatabaseError, ErrorKind};

use crate::systems::Error;

/// One SQL engine's spelling and error codes.
pub trait Dialect: Send + Sync + 'static {
    /// Starts a write transaction.
    fn begin(&self) -> &'static str;
    /// Appended to a SELECT of rows the transaction goes on to write, so a
    /// concurrent transaction waits rather than reads a revision about to
    /// change. Empty where a write transaction already excludes every other
    /// writer (SQLite's `BEGIN IMMEDIATE`).
    fn lock_rows(&self) -> &'static str;
    /// A table or column name, quoted. Names are checked identifiers
    /// (contract registry) before they get here.
    fn quote(&self, identifier: &str) -> String;
    /// The placeholder of the `index`th (1-based) bound parameter.
    fn param(&self, index: usize) -> String;
    /// The placeholder of a parameter bound as JSON text into a JSON column.
    fn json_param(&self, index: usize) -> String {
        self.param(index)
    }
    /// A JSON column read back as text.
    fn json_text(&self, column: &str) -> String {
        column.to_owned()
    }
    /// The DDL of a contract's record table in the default layout; `table`
    /// is quoted already.
    fn create_records_table(&self, table: &str) -> String;
    /// The names of the tables in the database (or schema) unquoted
    /// statements create tables in, as text.
    fn tables(&self) -> &'static str;
    /// Turns an `INSERT` into the table's default layout into one that
    /// overwrites `columns` of a row whose key is already there. Only used
    /// for rows the transaction holds locked, so it never overwrites a
    /// concurrent write; `columns` are quoted already.
    fn on_key_update(&self, key: &str, columns: &[&str]) -> String {
        let assignments: Vec<String> = columns
            .iter()
            .map(|column| format!("{column} = excluded.{column}"))
            .collect();
        format!(
            " ON CONFLICT ({key}) DO UPDATE SET {}",
            assignments.join(", ")
        )
    }
    /// Whether a unique violation is on the key's column (else another
    /// unique column of the table refused the write).
    fn is_key_conflict(&self, error: &dyn DatabaseError, key_column: &str) -> bool;
    /// Whether an engine error is passing (busy, locked, deadlock, I/O).
    fn is_temporary(&self, error: &dyn DatabaseError) -> bool;
    /// Whether an engine error is the table's own rules refusing the write,
    /// beyond the constraint kinds sqlx already names (a trigger's abort).
    fn is_refusal(&self, error: &dyn DatabaseError) -> bool;

    /// Classifies an engine error once, for every statement of every SQL
    /// owner.
    fn classify(&self, error: sqlx::Error) -> Error {
        match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(error.to_string()),
            sqlx::Error::Database(db) if self.is_temporary(db.as_ref()) => {
                Error::Unavailable(db.message().to_owned())
            }
            sqlx::Error::Database(db)
                if db.kind() != ErrorKind::Other || self.is_refusal(db.as_ref()) =>
            {
                Error::Refused(db.message().to_owned())
            }
            _ => Error::Fault(error.to_string()),
        }
    }

    /// `count` placeholders from `first` on, comma-separated.
    fn params(&self, first: usize, count: usize) -> String {
        (first..first + count)
            .map(|index| self.param(index))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `rows` parenthesized rows of placeholders, numbered from 1, for a
    /// multi-row `VALUES` or `IN`; `json[i]` says whether column `i` is
    /// bound as JSON.
    fn rows(&self, rows: usize, json: &[bool]) -> String {
        let mut index = 0;
        let mut row = || {
            let columns: Vec<String> = json
                .iter()
                .map(|json| {
                    index += 1;
                    if *json {
                        self.json_param(index)
                    } else {
                        self.param(index)
                    }
                })
                .collect();
            format!("({})", columns.join(", "))
        };
        (0..rows).map(|_| row()).collect::<Vec<_>>().join(", ")
    }
}

/// A text column as any engine sends it: MySQL and MariaDB send `TEXT`
/// columns as blobs, which sqlx's `String` will not decode.
pub struct Text(pub String);

impl sqlx::Type<sqlx::Any> for Text {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            || <Vec<u8> as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Text {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.type_info().kind() == sqlx::any::AnyTypeInfoKind::Blob {
            let bytes = <Vec<u8> as sqlx::Decode<sqlx::Any>>::decode(value)?;
            Ok(Text(String::from_utf8(bytes)?))
        } else {
            Ok(Text(<String as sqlx::Decode<sqlx::Any>>::decode(value)?))
        }
    }
}

//! The idempotency ledger of an SQL owner: one row per contract and
//! `Idempotency-Key`, inserted in the transaction of the write it answers
//! for, so a crash can never keep one without the other. The row's primary
//! key is what decides between gateway instances that race on one key: the
//! second insert fails, and its write is rolled back to its savepoint.
//!
//! Expired rows are deleted twice over: the row of a key that is reused
//! after it expired, by the write that reuses it (else its insert would
//! collide with it), and every expired row by the journal's
//! `forget_expired`, which the write path calls now and then.

use serde_json::Value;
use sqlx::any::AnyTypeInfoKind;
use sqlx::AnyConnection;

use super::dialect::{Dialect, Text};
use super::journal::epoch_millis;
use super::procedure::{bind, Param};
use super::Procedure;
use crate::contract::{ContractName, RecordKey};
use crate::events::{now_rfc3339, EventType};
use crate::systems::{Committed, Error, Idempotency, LedgerEntry};

/// The ledger's statements in one dialect, built once.
pub struct LedgerStatements {
    /// The unexpired row of one key.
    pub remembered: String,
    /// Every expired row.
    pub forget_expired: String,
}

impl LedgerStatements {
    /// Spells the statements in a dialect.
    pub fn new(dialect: &dyn Dialect) -> Self {
        let p = |index| dialect.param(index);
        let one_key = format!("contract = {} AND idempotency_key = {}", p(1), p(2));
        Self {
            remembered: format!(
                "SELECT fingerprint, record_key, revision, event_type, response \
                 FROM contractgate_idempotency WHERE {one_key} AND expires_at > {}",
                p(3)
            ),
            forget_expired: format!(
                "DELETE FROM contractgate_idempotency WHERE expires_at <= {}",
                p(1)
            ),
        }
    }
}

/// A ledger row as read: fingerprint, record key, revision, event type,
/// response.
pub(super) type LedgerRow = (Text, Text, i64, Text, Option<Text>);

/// Keeps `count` ledger entries; binds per entry what [`entry`] gives.
fn insert_entries(dialect: &dyn Dialect, count: usize) -> String {
    format!(
        "INSERT INTO contractgate_idempotency (contract, idempotency_key, fingerprint, \
         record_key, revision, event_type, response, created_at, expires_at) VALUES {}",
        dialect.rows(count, &[false; 9])
    )
}

/// Deletes the expired rows of `count` keys; binds per key its contract and
/// idempotency key, then the time now.
fn forget_expired_keys(dialect: &dyn Dialect, count: usize) -> String {
    format!(
        "DELETE FROM contractgate_idempotency WHERE (contract, idempotency_key) IN ({}) \
         AND expires_at <= {}",
        dialect.rows(count, &[false; 2]),
        dialect.param(2 * count + 1)
    )
}

/// What the ledger keeps of one write.
pub struct Entry<'a> {
    pub contract: &'a ContractName,
    pub record_key: &'a RecordKey,
    pub idempotency: &'a Idempotency,
    pub committed: &'a Committed,
}

impl Entry<'_> {
    /// The row's values, in [`insert_entries`] order, kept at `now` (epoch
    /// ms; `created` the same time in RFC 3339).
    fn params(&self, now: i64, created: &str) -> Result<Vec<Param>, Error> {
        let ttl = i64::try_from(self.idempotency.ttl.as_millis()).unwrap_or(i64::MAX);
        Ok(vec![
            Param::Text(self.contract.to_string()),
            Param::Text(self.idempotency.key.to_string()),
            Param::Text(self.idempotency.fingerprint.clone()),
            Param::Text(self.record_key.to_string()),
            Param::Integer(self.committed.revision as i64),
            Param::Text(event_type_name(self.committed.event_type)?),
            match &self.idempotency.response {
                Some(response) => Param::Text(response.to_string()),
                None => Param::Null(AnyTypeInfoKind::Text),
            },
            Param::Text(created.to_owned()),
            Param::Integer(now.saturating_add(ttl)),
        ])
    }
}

impl Procedure {
    /// Keeps writes' ledger entries, on a connection inside the writes'
    /// transaction (or on its own). The expired rows of reused keys go
    /// first; an unexpired one makes this [`Error::IdempotencyKeyTaken`].
    pub async fn remember(
        &self,
        connection: &mut AnyConnection,
        entries: &[Entry<'_>],
    ) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let classify = |e| self.dialect.classify(e);
        let now = epoch_millis();
        let forget = forget_expired_keys(self.dialect, entries.len());
        let mut query = sqlx::query(&forget);
        for entry in entries {
            query = query
                .bind(entry.contract.as_str())
                .bind(entry.idempotency.key.as_str());
        }
        query
            .bind(now)
            .execute(&mut *connection)
            .await
            .map_err(classify)?;
        let created = now_rfc3339();
        let mut params = Vec::with_capacity(entries.len() * 9);
        for entry in entries {
            params.extend(entry.params(now, &created)?);
        }
        let insert = insert_entries(self.dialect, entries.len());
        bind(sqlx::query(&insert), params)
            .execute(connection)
            .await
            .map_err(|error| match &error {
                sqlx::Error::Database(db) if db.is_unique_violation() => Error::IdempotencyKeyTaken,
                _ => classify(error),
            })?;
        Ok(())
    }
}

/// A ledger row as the journal answers it.
pub(super) fn ledger_entry(
    (Text(fingerprint), Text(record_key), revision, Text(event_type), response): LedgerRow,
) -> Result<LedgerEntry, Error> {
    let fault = |what: &str, error: String| Error::Fault(format!("a ledger row's {what}: {error}"));
    let response = match response {
        Some(Text(text)) => {
            Some(serde_json::from_str(&text).map_err(|e| fault("response", e.to_string()))?)
        }
        None => None,
    };
    Ok(LedgerEntry {
        fingerprint,
        record_key: RecordKey::parse(&record_key).map_err(|e| fault("record key", e))?,
        revision: revision as u64,
        event_type: event_type_named(&event_type)?,
        response,
    })
}

/// The ledger spells an event type as change events do (`created`, …).
fn event_type_name(event_type: EventType) -> Result<String, Error> {
    match serde_json::to_value(event_type) {
        Ok(Value::String(name)) => Ok(name),
        _ => Err(Error::Fault(format!("{event_type:?} has no name"))),
    }
}

fn event_type_named(name: &str) -> Result<EventType, Error> {
    use EventType::{Created, Deleted, Patched, Replaced};
    [Created, Replaced, Patched, Deleted]
        .into_iter()
        .find(|event_type| event_type_name(*event_type).is_ok_and(|n| n == name))
        .ok_or_else(|| Error::Fault(format!("a ledger row's event type `{name}` is unknown")))
}

#[cfg(test)]
mod tests {
    use crate::systems::Changes;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::systems::sql::journal::tests::{new_customer, two_instances};
    use crate::systems::{IdempotencyKey, Journal, Owner};

    fn under_key(key: &str, ttl: Duration) -> Idempotency {
        Idempotency {
            key: IdempotencyKey::parse(key).expect("a key"),
            fingerprint: format!("fingerprint of {key}"),
            ttl,
            response: Some(json!({"answered": key})),
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_write_under_a_key_is_remembered_and_a_second_one_is_refused_whole() {
        let folder = tempfile::tempdir().expect("a folder");
        let (first, second, registry) = two_instances(&folder.path().join("g.db")).await;
        let idempotency = under_key("k-1", HOUR);
        let mut write = new_customer(&registry, "c-1");
        write.idempotency = Some(idempotency.clone());
        let contract = write.contract.clone();
        first.commit(write).await.expect("committed");

        let entry = second
            .remembered(&contract, &idempotency.key)
            .await
            .expect("read")
            .expect("remembered");
        assert_eq!(
            entry,
            LedgerEntry {
                fingerprint: idempotency.fingerprint.clone(),
                record_key: RecordKey::parse("c-1").expect("a key"),
                revision: 1,
                event_type: EventType::Created,
                response: idempotency.response.clone(),
            }
        );
        // Another instance's write under the key: the ledger row refuses it,
        // record and event included.
        let mut again = new_customer(&registry, "c-2");
        again.idempotency = Some(idempotency);
        let refused = second.commit(again).await.expect_err("refused");
        assert!(matches!(refused, Error::IdempotencyKeyTaken), "{refused:?}");
        assert!(refused.is_domain());
        let feed = second.changes_after(Some(0), None, 10).await.expect("feed");
        assert!(
            matches!(&feed, Changes::Page { events, .. } if events.len() == 1),
            "{feed:?}"
        );
        let c2 = RecordKey::parse("c-2").expect("a key");
        assert_eq!(second.read(&contract, &c2).await.expect("read"), None);
    }

    #[tokio::test]
    async fn an_expired_key_is_not_remembered_can_be_reused_and_is_swept() {
        let folder = tempfile::tempdir().expect("a folder");
        let (owner, _, registry) = two_instances(&folder.path().join("g.db")).await;
        let expired = under_key("k-1", Duration::ZERO);
        let mut write = new_customer(&registry, "c-1");
        write.idempotency = Some(expired.clone());
        let contract = write.contract.clone();
        owner.commit(write).await.expect("committed");
        let remembered = owner.remembered(&contract, &expired.key).await;
        assert_eq!(remembered.expect("read"), None);

        let mut reuse = new_customer(&registry, "c-2");
        reuse.idempotency = Some(under_key("k-1", HOUR));
        owner.commit(reuse).await.expect("a fresh write");
        let entry = owner.remembered(&contract, &expired.key).await;
        let entry = entry.expect("read").expect("remembered");
        assert_eq!(entry.record_key.as_str(), "c-2");

        for (key, id) in [("k-2", "c-3"), ("k-3", "c-4")] {
            let mut write = new_customer(&registry, id);
            write.idempotency = Some(under_key(key, Duration::ZERO));
            owner.commit(write).await.expect("committed");
        }
        assert_eq!(owner.forget_expired().await.expect("swept"), 2);
        assert_eq!(owner.forget_expired().await.expect("swept"), 0);
        let kept = owner.remembered(&contract, &expired.key).await;
        assert!(kept.expect("read").is_some(), "an unexpired key was swept");
    }

    #[tokio::test]
    async fn a_write_committed_apart_is_remembered_apart() {
        let folder = tempfile::tempdir().expect("a folder");
        let (owner, _, registry) = two_instances(&folder.path().join("g.db")).await;
        let write = new_customer(&registry, "c-1");
        let deleted = Committed {
            revision: 3,
            version: crate::contract::Version::new(2).expect("v2"),
            event_type: EventType::Deleted,
        };
        let idempotency = Idempotency {
            response: None,
            ..under_key("k-1", HOUR)
        };
        let remember = || owner.remember(&write.contract, &write.key, &idempotency, &deleted);
        remember().await.expect("remembered");
        let entry = owner.remembered(&write.contract, &idempotency.key).await;
        let entry = entry.expect("read").expect("remembered");
        assert_eq!(
            (entry.revision, entry.event_type, entry.response),
            (3, EventType::Deleted, None)
        );
        let taken = remember().await.expect_err("taken");
        assert!(matches!(taken, Error::IdempotencyKeyTaken), "{taken:?}");
    }

    #[test]
    fn event_types_are_named_as_in_change_events() {
        use EventType::{Created, Deleted, Patched, Replaced};
        for (event_type, name) in [
            (Created, "created"),
            (Replaced, "replaced"),
            (Patched, "patched"),
            (Deleted, "deleted"),
        ] {
            assert_eq!(event_type_name(event_type).expect("a name"), name);
            assert_eq!(event_type_named(name).expect("a type"), event_type);
        }
        assert!(event_type_named("renamed").is_err());
    }
}

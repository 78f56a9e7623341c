//! `Idempotency-Key` (IETF draft-ietf-httpapi-idempotency-key-header): a
//! write sent again under the same key is answered as it was the first
//! time and not written again.
//!
//! Three things decide, in this order:
//! 1. This process's keys in flight ([`IdempotencyKeys`]): a key whose
//!    first request is still being processed here is refused (409), so one
//!    gateway never runs two writes under one key at once.
//! 2. The ledger, read before the write: a kept key answers from it (a
//!    replay when the request is the same one, 422 when not).
//! 3. The ledger row the write inserts in its own transaction: between
//!    gateway instances, which share no memory, its primary key lets one
//!    write commit and refuses the other, which then answers from the
//!    ledger like step 2.
//!
//! Only committed writes leave a row, so a refused request (violations,
//! 409, 412, 503) can be retried under the same key.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Error, Outcome};
use crate::contract::{ContractName, RecordKey, Version};
use crate::gateway::{Gateway, Target};
use crate::metrics::Operation;
use crate::systems::{Idempotency, IdempotencyKey};

/// Expired ledger rows are swept at most this often (or once per TTL when
/// that is shorter): rarely enough to cost nothing, often enough that a
/// sweep deletes a minute's worth of rows, not a day's.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// This gateway process's idempotency keys: those whose request is being
/// processed, and when the ledgers are next swept.
#[derive(Debug, Default)]
pub struct IdempotencyKeys {
    in_flight: Mutex<HashSet<(ContractName, IdempotencyKey)>>,
    next_sweep: Mutex<Option<Instant>>,
}

/// A key held in flight; released when dropped, whatever the outcome (a
/// cancelled request included).
struct Claim<'k> {
    keys: &'k IdempotencyKeys,
    held: (ContractName, IdempotencyKey),
}

impl IdempotencyKeys {
    /// Holds a contract's key, unless a request holds it already.
    fn claim(&self, contract: &ContractName, key: &IdempotencyKey) -> Option<Claim<'_>> {
        let held = (contract.clone(), key.clone());
        let inserted = lock(&self.in_flight).insert(held.clone());
        // Built only when inserted: a dropped claim releases its key.
        inserted.then(|| Claim { keys: self, held })
    }

    /// Whether a sweep is due; if so, the next one is `interval` away.
    fn sweep_due(&self, interval: Duration) -> bool {
        let now = Instant::now();
        let mut next = lock(&self.next_sweep);
        match *next {
            Some(at) if now < at => false,
            _ => {
                *next = Some(now + interval);
                true
            }
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        lock(&self.keys.in_flight).remove(&self.held);
    }
}

/// A set stays consistent whatever panicked while holding it: every change
/// is one insert or remove.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A write request sent with an idempotency key.
pub(super) struct KeyedRequest {
    key: IdempotencyKey,
    /// SHA-256 of the method, the path (as the target and key it resolved
    /// to) and the body as parsed JSON, canonicalised: object members in
    /// key order, no whitespace (serde_json's maps are sorted). A retry
    /// that re-serialises the same JSON differently is still the same
    /// request; one that changes any value is not.
    fingerprint: String,
}

impl KeyedRequest {
    /// `method` (`POST`, …) on `target` and `record` (none for a create),
    /// with its body (none for a deletion).
    pub(super) fn new(
        key: IdempotencyKey,
        method: &str,
        target: &Target,
        record: Option<&RecordKey>,
        body: Option<&Value>,
    ) -> Self {
        let fingerprint = fingerprint(method, &target.contract.name, target.version, record, body);
        Self { key, fingerprint }
    }
}

/// See [`KeyedRequest::fingerprint`].
fn fingerprint(
    method: &str,
    contract: &ContractName,
    version: Version,
    record: Option<&RecordKey>,
    body: Option<&Value>,
) -> String {
    // An array keeps the parts apart whatever they contain.
    let parts = json!([
        method,
        contract,
        version.number(),
        record.map(RecordKey::as_str),
        body
    ]);
    format!("{:x}", Sha256::digest(parts.to_string()))
}

impl Gateway {
    /// Runs `write` at most once per idempotency key (see the module
    /// comment); without a key, simply runs it. `write` gets what the
    /// ledger must keep, to pass on to the owner with the write.
    pub(super) async fn at_most_once<W, F>(
        &self,
        target: &Target,
        request: Option<KeyedRequest>,
        write: W,
    ) -> Result<Outcome, Error>
    where
        W: FnOnce(Option<Idempotency>) -> F,
        F: Future<Output = Result<Outcome, Error>>,
    {
        let Some(request) = request else {
            return write(None).await;
        };
        let _claim = self
            .idempotency_keys
            .claim(&target.contract.name, &request.key)
            .ok_or_else(|| Error::IdempotencyKeyInFlight(request.key.clone()))?;
        self.sweep_ledgers_if_due();
        if let Some(outcome) = self.replay(target, &request).await? {
            return Ok(outcome);
        }
        let idempotency = Idempotency {
            key: request.key.clone(),
            fingerprint: request.fingerprint.clone(),
            ttl: self.config().idempotency.ttl(),
            response: None,
        };
        match write(Some(idempotency)).await {
            // Refused on its merits: maybe because another instance wrote
            // under the same key meanwhile (its ledger row, or its record,
            // came first). Then the ledger answers.
            Err(Error::Owner(refusal)) if refusal.is_domain() => {
                match self.replay(target, &request).await? {
                    Some(outcome) => Ok(outcome),
                    None => Err(refusal.into()),
                }
            }
            other => other,
        }
    }

    /// The first answer to a request, from the ledger: none when the key is
    /// not kept; an error when it was kept for another request.
    async fn replay(
        &self,
        target: &Target,
        request: &KeyedRequest,
    ) -> Result<Option<Outcome>, Error> {
        let journal = &target.system.journal;
        let entry = self
            .timed(
                target,
                Operation::Read,
                journal.remembered(&target.contract.name, &request.key),
            )
            .await?;
        match entry {
            None => Ok(None),
            Some(entry) if entry.fingerprint == request.fingerprint => Ok(Some(Outcome {
                key: entry.record_key,
                revision: entry.revision,
                event_type: entry.event_type,
                body: entry.response,
                replayed: true,
            })),
            Some(_) => Err(Error::IdempotencyKeyReused(request.key.clone())),
        }
    }

    /// Now and then, deletes every system's expired ledger rows, in the
    /// background: the request that happens to trigger it does not wait.
    fn sweep_ledgers_if_due(&self) {
        let interval = SWEEP_INTERVAL.min(self.config().idempotency.ttl());
        if !self.idempotency_keys.sweep_due(interval) {
            return;
        }
        for (name, system) in self.systems() {
            let (name, journal) = (name.clone(), system.journal.clone());
            tokio::spawn(async move {
                if let Err(error) = journal.forget_expired().await {
                    tracing::warn!(system = %name, %error, "expired idempotency keys not swept");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).expect("a key")
    }

    fn contract(name: &str) -> ContractName {
        ContractName::parse(name).expect("a name")
    }

    #[test]
    fn a_key_is_held_once_per_contract_until_released() {
        let keys = IdempotencyKeys::default();
        let first = keys.claim(&contract("customer"), &key("k"));
        assert!(first.is_some());
        assert!(keys.claim(&contract("customer"), &key("k")).is_none());
        // Another key, the same key in another case, or in another contract.
        assert!(keys.claim(&contract("customer"), &key("K")).is_some());
        assert!(keys.claim(&contract("order"), &key("k")).is_some());
        drop(first);
        assert!(keys.claim(&contract("customer"), &key("k")).is_some());
    }

    #[test]
    fn the_fingerprint_is_the_method_path_and_canonical_body() {
        let (customer, v2) = (contract("customer"), Version::new(2).expect("v2"));
        let record = RecordKey::parse("c-1").expect("a key");
        let print = |method, version, record: Option<&RecordKey>, body: &str| {
            let body: Value = serde_json::from_str(body).expect("JSON");
            fingerprint(method, &customer, version, record, Some(&body))
        };
        let first = print("PUT", v2, Some(&record), r#"{"id": "c-1", "tier": "gold"}"#);
        // The same JSON, members in another order and spaced otherwise.
        assert_eq!(
            first,
            print("PUT", v2, Some(&record), r#"{"tier":"gold","id":"c-1"}"#)
        );
        let v1 = Version::new(1).expect("v1");
        let other = RecordKey::parse("c-2").expect("a key");
        for different in [
            print(
                "PATCH",
                v2,
                Some(&record),
                r#"{"id": "c-1", "tier": "gold"}"#,
            ),
            print("PUT", v1, Some(&record), r#"{"id": "c-1", "tier": "gold"}"#),
            print("PUT", v2, Some(&other), r#"{"id": "c-1", "tier": "gold"}"#),
            print(
                "PUT",
                v2,
                Some(&record),
                r#"{"id": "c-1", "tier": "silver"}"#,
            ),
            fingerprint("PUT", &customer, v2, Some(&record), None),
        ] {
            assert_ne!(first, different);
        }
    }

    #[test]
    fn a_sweep_is_due_once_per_interval() {
        let keys = IdempotencyKeys::default();
        assert!(keys.sweep_due(Duration::from_secs(3600)));
        assert!(!keys.sweep_due(Duration::from_secs(3600)));
        let keys = IdempotencyKeys::default();
        assert!(keys.sweep_due(Duration::ZERO));
        assert!(keys.sweep_due(Duration::ZERO));
    }
}

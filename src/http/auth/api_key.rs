//! API keys, kept in the config as Argon2 hashes (PHC strings) so the
//! config file gives no key away. A presented key is checked with the
//! crate's verifier, which compares in constant time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::bail;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use super::Principal;
use crate::config::ApiKeyConfig;

/// The configured keys, and those already verified.
pub(super) struct ApiKeys {
    keys: Arc<[ApiKey]>,
    /// SHA-256 of each key that has verified, with its entry. Argon2 is
    /// slow on purpose; paying it on every request would make every
    /// request slow. Only a key that verified is remembered, so this holds
    /// at most one entry per configured key.
    verified: Mutex<HashMap<[u8; 32], usize>>,
}

struct ApiKey {
    principal: Principal,
    hash: String,
}

impl ApiKey {
    fn verifies(&self, key: &str) -> bool {
        // The hash parsed when the config was read.
        PasswordHash::new(&self.hash).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(key.as_bytes(), &hash)
                .is_ok()
        })
    }
}

impl ApiKeys {
    /// The keys of `auth.api_keys`; refuses a hash that is not Argon2 and
    /// two keys of one name.
    pub(super) fn new(configs: &[ApiKeyConfig]) -> anyhow::Result<ApiKeys> {
        let mut keys = Vec::with_capacity(configs.len());
        for config in configs {
            let is_argon2 = PasswordHash::new(&config.hash)
                .is_ok_and(|hash| hash.algorithm.as_str().starts_with("argon2"));
            if !is_argon2 {
                bail!(
                    "auth.api_keys `{}`: the hash is not an Argon2 PHC string; make one with `contractgate hash-key`",
                    config.name
                );
            }
            if keys
                .iter()
                .any(|key: &ApiKey| key.principal.name == config.name)
            {
                bail!("auth.api_keys: two keys are named `{}`", config.name);
            }
            keys.push(ApiKey {
                principal: Principal {
                    name: config.name.clone(),
                    scopes: config.scopes.clone(),
                },
                hash: config.hash.clone(),
            });
        }
        Ok(ApiKeys {
            keys: keys.into(),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The holder of `key`, if it is one of the configured keys.
    pub(super) async fn principal(&self, key: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let known = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .copied();
        let index = match known {
            Some(index) => index,
            None => {
                let keys = Arc::clone(&self.keys);
                let key = key.to_owned();
                // Argon2 takes milliseconds of CPU per key: off the runtime's threads.
                let found =
                    tokio::task::spawn_blocking(move || keys.iter().position(|k| k.verifies(&key)))
                        .await
                        .ok()
                        .flatten()?;
                self.verified
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(digest, found);
                found
            }
        };
        self.keys.get(index).map(|key| key.principal.clone())
    }
}

/// The Argon2id hash of `key` with a fresh random salt, as a PHC string
/// to paste into `auth.api_keys` (what `contractgate hash-key` prints).
pub fn hash_key(key: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(key.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("cannot hash the key: {error}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, hash: String) -> ApiKeyConfig {
        ApiKeyConfig {
            name: name.to_owned(),
            hash,
            scopes: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_key_verifies_against_its_own_hash_only() {
        let keys = ApiKeys::new(&[
            config("first", hash_key("key-one").unwrap()),
            config("second", hash_key("key-two").unwrap()),
        ])
        .unwrap();
        let remembered = || keys.verified.lock().unwrap().len();
        assert_eq!(keys.principal("key-two").await.unwrap().name, "second");
        assert_eq!(remembered(), 1);
        assert_eq!(keys.principal("key-two").await.unwrap().name, "second");
        assert_eq!(remembered(), 1, "a key is remembered once");
        assert_eq!(keys.principal("key-one").await.unwrap().name, "first");
        assert!(keys.principal("key-three").await.is_none());
        assert!(keys.principal("").await.is_none());
        assert_eq!(remembered(), 2, "a refused key is not remembered");
    }

    #[test]
    fn hashes_are_salted() {
        assert_ne!(hash_key("same").unwrap(), hash_key("same").unwrap());
    }

    #[test]
    fn a_hash_that_is_not_argon2_and_a_repeated_name_are_refused() {
        for hash in ["s3cret", "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"] {
            let error = ApiKeys::new(&[config("ci", hash.to_owned())])
                .err()
                .unwrap()
                .to_string();
            assert!(
                error.contains("`ci`") && error.contains("hash-key"),
                "{error}"
            );
        }
        let hash = hash_key("k").unwrap();
        let error = ApiKeys::new(&[config("ci", hash.clone()), config("ci", hash)])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("two keys are named `ci`"), "{error}");
    }
}

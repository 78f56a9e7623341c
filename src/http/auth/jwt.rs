//! JWT bearer tokens (RFC 7519), signed with HS256, RS256 or ES256 by an
//! issuer the config trusts. A token is accepted when a configured key
//! verifies its signature under that key's one algorithm (so a token
//! cannot pick the algorithm its key is read with), and its `exp`, `nbf`,
//! `iss` and `aud` hold. Its `sub` is the principal's name and its `scope`
//! claim (space-separated, or a list) the principal's scopes.

use std::path::Path;

use anyhow::{bail, Context};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Principal, Scope};
use crate::config::{JwtConfig, JwtKeyConfig};

/// RFC 7518 §3.2: an HMAC key at least as long as the hash's output.
const MIN_SECRET_BYTES: usize = 32;

/// The keys tokens are checked with.
pub(super) struct JwtVerifier {
    keys: Vec<VerifyingKey>,
}

struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

#[derive(Deserialize)]
struct Claims {
    // Required: the validation reports a token without one by name.
    #[serde(default)]
    sub: String,
    scope: Option<ScopeClaim>,
}

/// `scope` as OAuth writes it (`"customer:read order:read"`) or as a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeClaim {
    Text(String),
    List(Vec<String>),
}

impl JwtVerifier {
    /// Reads the keys of `auth.jwt`: those listed and those of its JWKS.
    pub(super) fn new(config: &JwtConfig) -> anyhow::Result<JwtVerifier> {
        let mut keys = Vec::new();
        for key in &config.keys {
            keys.push(configured_key(key)?);
        }
        if let Some(path) = &config.jwks {
            keys.extend(jwks_keys(path)?);
        }
        if keys.is_empty() {
            bail!("auth.jwt has no key to verify tokens with: list `keys:` or name a `jwks:` file");
        }
        Ok(JwtVerifier {
            keys: keys
                .into_iter()
                .map(|(kid, algorithm, key)| VerifyingKey {
                    kid,
                    algorithm,
                    key,
                    validation: validation(algorithm, config),
                })
                .collect(),
        })
    }

    /// The principal a token names, or why the token is refused.
    pub(super) fn principal(&self, token: &str) -> Result<Principal, String> {
        let header = decode_header(token)
            .map_err(|_| "it is not a JWT signed with HS256, RS256 or ES256".to_owned())?;
        let candidates = self.keys.iter().filter(|key| {
            key.algorithm == header.alg
                && (key.kid.is_none() || header.kid.is_none() || key.kid == header.kid)
        });
        // With several candidates, the one that verified the signature
        // says best why the token is refused.
        let mut refusal: Option<Error> = None;
        for key in candidates {
            match decode::<Claims>(token, &key.key, &key.validation) {
                Ok(data) => return Ok(principal(data.claims)),
                Err(error) => {
                    if refusal
                        .as_ref()
                        .is_none_or(|e| *e.kind() == ErrorKind::InvalidSignature)
                    {
                        refusal = Some(error);
                    }
                }
            }
        }
        Err(match refusal {
            Some(error) => reason(&error),
            None => format!("no configured key verifies {:?} tokens", header.alg),
        })
    }
}

fn principal(claims: Claims) -> Principal {
    let texts = match claims.scope {
        None => Vec::new(),
        Some(ScopeClaim::Text(text)) => vec![text],
        Some(ScopeClaim::List(list)) => list,
    };
    // An issuer's token carries scopes of other services too (`openid`,
    // `profile`…): those are not the gateway's, and grant nothing here.
    let scopes = texts
        .iter()
        .flat_map(|text| text.split_whitespace())
        .filter_map(|text| Scope::parse(text).ok())
        .collect();
    Principal {
        name: claims.sub,
        scopes,
    }
}

/// Why a token was refused, in the words of its claims.
fn reason(error: &Error) -> String {
    match error.kind() {
        ErrorKind::InvalidSignature => "its signature does not verify".to_owned(),
        ErrorKind::ExpiredSignature => "it has expired (`exp`)".to_owned(),
        ErrorKind::ImmatureSignature => "it is not valid yet (`nbf`)".to_owned(),
        ErrorKind::InvalidIssuer => {
            "its issuer (`iss`) is not the one this gateway trusts".to_owned()
        }
        ErrorKind::InvalidAudience => "it is meant for another audience (`aud`)".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("it lacks the `{claim}` claim"),
        _ => format!("it is malformed ({error})"),
    }
}

fn validation(algorithm: Algorithm, config: &JwtConfig) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    validation.validate_nbf = true;
    validation
}

type Key = (Option<String>, Algorithm, DecodingKey);

fn configured_key(config: &JwtKeyConfig) -> anyhow::Result<Key> {
    match config {
        JwtKeyConfig::Hs256 { secret, kid } => {
            if secret.expose().len() < MIN_SECRET_BYTES {
                bail!("auth.jwt: an HS256 secret must be at least {MIN_SECRET_BYTES} bytes long (RFC 7518 §3.2)");
            }
            let key = DecodingKey::from_secret(secret.expose().as_bytes());
            Ok((kid.clone(), Algorithm::HS256, key))
        }
        JwtKeyConfig::Rs256 { file, kid } => {
            let key = read_pem(file, DecodingKey::from_rsa_pem)?;
            Ok((kid.clone(), Algorithm::RS256, key))
        }
        JwtKeyConfig::Es256 { file, kid } => {
            let key = read_pem(file, DecodingKey::from_ec_pem)?;
            Ok((kid.clone(), Algorithm::ES256, key))
        }
    }
}

fn read_pem(
    path: &Path,
    parse: fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>,
) -> anyhow::Result<DecodingKey> {
    let pem = std::fs::read(path)
        .with_context(|| format!("auth.jwt: cannot read the key {}", path.display()))?;
    parse(&pem).with_context(|| {
        format!(
            "auth.jwt: {} is not a public key of the key's algorithm, in PEM",
            path.display()
        )
    })
}

/// The signing keys of a JWKS file. An identity provider's set holds
/// encryption keys and keys of other algorithms too: those are skipped
/// with a warning, as long as one usable key remains.
fn jwks_keys(path: &Path) -> anyhow::Result<Vec<Key>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("auth.jwt: cannot read the JWKS {}", path.display()))?;
    let set: JwkSet = serde_json::from_str(&text)
        .with_context(|| format!("auth.jwt: {} is not a JWKS", path.display()))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let kid = jwk.common.key_id.clone();
        let Some(algorithm) = signing_algorithm(jwk) else {
            tracing::warn!(jwks = %path.display(), kid, "a key that is not an HS256, RS256 or ES256 signing key is skipped");
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).with_context(|| {
            format!(
                "auth.jwt: the key `{}` of {} does not read",
                kid.as_deref().unwrap_or("without kid"),
                path.display()
            )
        })?;
        keys.push((kid, algorithm, key));
    }
    if keys.is_empty() {
        bail!(
            "auth.jwt: {} holds no HS256, RS256 or ES256 signing key",
            path.display()
        );
    }
    Ok(keys)
}

/// The algorithm a JWK signs with: its `alg`, or, without one, the one
/// its key type implies.
fn signing_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
        return None;
    }
    match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::HS256), AlgorithmParameters::OctetKey(_))
        | (None, AlgorithmParameters::OctetKey(_)) => Some(Algorithm::HS256),
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_))
        | (None, AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (Some(KeyAlgorithm::ES256) | None, AlgorithmParameters::EllipticCurve(params))
            if params.curve == EllipticCurve::P256 =>
        {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(keys: Vec<JwtKeyConfig>) -> JwtConfig {
        JwtConfig {
            issuer: "https://id.example".to_owned(),
            audience: "contractgate".to_owned(),
            keys,
            jwks: None,
        }
    }

    /// Why a config with these keys is refused.
    fn refusal(keys: Vec<JwtKeyConfig>) -> String {
        JwtVerifier::new(&config(keys)).err().unwrap().to_string()
    }

    #[test]
    fn a_short_hmac_secret_and_a_missing_key_file_are_refused() {
        let error = refusal(vec![JwtKeyConfig::Hs256 {
            secret: Secret::from("too short"),
            kid: None,
        }]);
        assert!(error.contains("at least 32 bytes"), "{error}");
        let error = refusal(vec![JwtKeyConfig::Rs256 {
            file: "no/such/key.pem".into(),
            kid: None,
        }]);
        assert!(error.contains("no/such/key.pem"), "{error}");
        let error = refusal(Vec::new());
        assert!(error.contains("no key"), "{error}");
    }

    #[test]
    fn foreign_scopes_grant_nothing() {
        let claims = Claims {
            sub: "svc".to_owned(),
            scope: Some(ScopeClaim::Text(
                "openid customer:read  profile order:write".to_owned(),
            )),
        };
        let principal = principal(claims);
        assert_eq!(
            principal.scopes,
            vec![
                Scope::parse("customer:read").unwrap(),
                Scope::parse("order:write").unwrap()
            ]
        );
    }
}

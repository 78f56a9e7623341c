//! `contractgate.yaml` and the environment, resolved once into a [`Config`].
//! Precedence: flags, then environment (both handled by clap in `main.rs`),
//! then the file, then the defaults below.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::contract::LoadOptions;
use crate::http::auth::Scope;

/// The name of the one system of the embedded default.
pub const EMBEDDED_SYSTEM: &str = "embedded";

/// Everything the gateway needs to run, after every source was applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The contracts folder.
    pub contracts: PathBuf,
    /// Where the embedded SQLite file lives.
    pub data: PathBuf,
    /// The systems, by name.
    pub systems: BTreeMap<String, SystemConfig>,
    /// Whether `systems` came from a config file. When not, the embedded
    /// SQLite system owns every contract whatever its `owner` says.
    pub systems_declared: bool,
    /// Request limits.
    pub limits: Limits,
    /// How `Idempotency-Key`s are kept.
    pub idempotency: Idempotency,
    /// Who may call the gateway. Without it the gateway is open: every
    /// caller may do everything, which `serve` allows on loopback only.
    pub auth: Option<AuthConfig>,
    /// Serve HTTPS with this certificate; without it, plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Where change events are relayed, and how long the journal keeps them.
    pub events: Events,
    /// Systems whose change events carry PII unredacted (`sees_pii: true`).
    pub pii_readers: BTreeSet<String>,
    /// How the gateway logs.
    pub log: Log,
    /// Bounds of the rejection store (`rejections: keep` on a contract).
    pub rejections: RejectionLimits,
    /// When contracts are reloaded.
    pub reload: Reload,
    /// How a SIGTERM is honoured.
    pub shutdown: Shutdown,
}

/// One source of truth the gateway writes to. Adding a kind of owner adds a
/// variant here and a file in `systems/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SystemConfig {
    /// An SQLite file.
    Sqlite {
        /// The database file; created when missing.
        path: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// `postgres://user:password@host:port/database`; keep the password
        /// in the environment with `${NAME}`.
        url: String,
        /// The schema the gateway's and the records' tables live in,
        /// created when missing; without it, the connection's search path.
        #[serde(default)]
        schema: Option<String>,
        /// Pooled connections.
        #[serde(default = "default_connections")]
        connections: u32,
    },
    /// A MySQL or MariaDB database.
    Mysql {
        /// `mysql://user:password@host:port/database`.
        url: String,
        /// Pooled connections.
        #[serde(default = "default_connections")]
        connections: u32,
    },
}

fn default_connections() -> u32 {
    16
}

/// Bounds on what one request may ask of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted request body.
    pub body_bytes: usize,
    /// Deepest accepted JSON nesting.
    pub json_depth: usize,
    /// How long an owner may take to commit or read.
    pub timeout_ms: u64,
    /// How long a whole request may take, reading its body included;
    /// longer than `timeout_ms`, so an owner's timeout is answered first.
    pub request_timeout_ms: u64,
    /// Requests served at once. One more is refused at once with 503
    /// rather than queued: a queue only makes every caller wait longer.
    pub concurrency: NonZeroUsize,
    /// Requests per principal over time; unlimited without it.
    pub rate: Option<Rate>,
}

/// A rate limit: `per_second` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed in a burst, after a quiet spell.
    pub burst: NonZeroU32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 1024 * 1024,
            json_depth: 128,
            timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            concurrency: NonZeroUsize::new(1024).expect("1024 is not zero"),
            rate: None,
        }
    }
}

/// How the idempotency ledger keeps keys (`idempotency:` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Idempotency {
    /// How long after its write a key is kept: a retry within it is
    /// answered from the ledger, one after it is a new write. At least 1.
    pub ttl_seconds: u64,
}

impl Idempotency {
    /// `ttl_seconds` as a duration.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_seconds)
    }
}

impl Default for Idempotency {
    /// A day, the IETF draft's examples' and most payment APIs' choice.
    fn default() -> Self {
        Self {
            ttl_seconds: 24 * 60 * 60,
        }
    }
}

/// How the gateway logs: `log: { format: json }` for one JSON object per
/// line (log collectors), `pretty` for people.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// The line format.
    pub format: LogFormat,
    /// An OpenTelemetry collector's OTLP/HTTP traces endpoint
    /// (`http://collector:4318/v1/traces`); needs the `otel` build feature.
    pub otlp: Option<String>,
}

/// A log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line, span fields (the request id) included.
    Json,
}

/// How many rejected writes a contract with `rejections: keep` keeps, and
/// for how long: the oldest go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RejectionLimits {
    /// Rejections kept per contract at most.
    pub max_per_contract: u64,
    /// Rejections older than this are deleted.
    pub max_age_hours: u64,
}

impl Default for RejectionLimits {
    fn default() -> Self {
        Self {
            max_per_contract: 1000,
            max_age_hours: 24 * 7,
        }
    }
}

/// `events:` — the relay to a broker and the journal's retention.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    /// The broker the relay publishes every change event to; without it
    /// there is no relay and events are read from `/changes` only.
    pub publish_to: Option<PublishTo>,
    /// How long the journal keeps an event (once relayed, when there is a
    /// relay) for `/changes` readers: `7d`, `12h`, `30m`, `45s`, or a number
    /// of seconds. Default 7 days.
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            publish_to: None,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Hot reload of the contracts folder (`SIGHUP` and `POST /admin/reload`
/// always reload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reload {
    /// Whether changes to the folder reload it.
    pub watch: bool,
    /// How long the folder must be quiet before a change is reloaded, so a
    /// `git pull` that touches ten files is one reload.
    pub debounce_ms: u64,
}

impl Default for Reload {
    fn default() -> Self {
        Self {
            watch: true,
            debounce_ms: 500,
        }
    }
}

/// `auth:`: the API keys and the JWT issuer the gateway trusts. At least
/// one of the two is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Callers known by a key.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// Callers known by a JWT bearer token.
    pub jwt: Option<JwtConfig>,
}

/// One API key: its holder's name, the key's hash (from
/// `contractgate hash-key`; the key itself is never stored) and its scopes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Who holds the key: the principal's name in logs and rate limits.
    pub name: String,
    /// An Argon2 PHC string (`$argon2id$v=19$…`).
    pub hash: String,
    /// What the key may do (`customer:write`, `*:read`, `admin`).
    pub scopes: Vec<Scope>,
}

/// JWT bearer tokens: who issues them, for whom, and the keys that sign
/// them. Tokens carry their scopes in the `scope` claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry: this gateway's name at the issuer.
    pub audience: String,
    /// Keys given one by one.
    #[serde(default)]
    pub keys: Vec<JwtKeyConfig>,
    /// A JWKS file (RFC 7517), as an identity provider publishes it.
    pub jwks: Option<PathBuf>,
}

/// One key that verifies tokens, with the one algorithm it accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "algorithm", deny_unknown_fields)]
pub enum JwtKeyConfig {
    /// HMAC with SHA-256 and a shared secret (keep it in the environment).
    #[serde(rename = "HS256")]
    Hs256 {
        /// The shared secret.
        secret: Secret,
        /// The `kid` tokens signed with it name, if any.
        kid: Option<String>,
    },
    /// RSA PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256 {
        /// The public key, PEM.
        file: PathBuf,
        /// The `kid` tokens signed with it name, if any.
        kid: Option<String>,
    },
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256 {
        /// The public key, PEM.
        file: PathBuf,
        /// The `kid` tokens signed with it name, if any.
        kid: Option<String>,
    },
}

/// A value that must not reach a log: `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Secret(secret.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `tls:`: the certificate chain and private key HTTPS is served with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, the server's own first.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A NATS JetStream stream change events are published to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishTo {
    /// `nats://host:port`, or `tls://host:port` to require TLS.
    pub url: String,
    /// The stream, created when missing; its subjects are its name in
    /// lowercase followed by `.>`.
    pub stream: String,
    /// A PEM file of the certificate authorities to trust for the broker's
    /// certificate instead of the system's (a private CA). Setting it
    /// requires TLS whatever the URL's scheme.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

impl PublishTo {
    /// The subject prefix of the stream's events: its name in lowercase.
    pub fn subject_prefix(&self) -> String {
        self.stream.to_lowercase()
    }
}

/// A duration as `<number><s|m|h|d>` or a bare number of seconds.
fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(u64),
        Text(String),
    }
    match Written::deserialize(deserializer)? {
        Written::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
        Written::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_seconds = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| unit_seconds > 0)
        .and_then(|n| n.checked_mul(unit_seconds))
        .map(Duration::from_secs)
        .ok_or_else(|| {
            format!("`{text}` is not a duration: write a number of seconds, or one with s, m, h or d (`7d`)")
        })
}

/// Graceful shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Shutdown {
    /// How long requests in flight may take to finish once SIGTERM came;
    /// past it the process exits anyway.
    pub deadline_ms: u64,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            deadline_ms: 30_000,
        }
    }
}

/// Parsing, validation and dropping a payload recurse once per level; the
/// cap keeps that far from any thread's stack size.
pub const MAX_JSON_DEPTH: usize = 128;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    contracts: Option<PathBuf>,
    data: Option<PathBuf>,
    #[serde(default)]
    systems: BTreeMap<String, DeclaredSystem>,
    limits: Option<Limits>,
    idempotency: Option<Idempotency>,
    auth: Option<AuthConfig>,
    tls: Option<TlsConfig>,
    #[serde(default)]
    events: Events,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    rejections: RejectionLimits,
    #[serde(default)]
    reload: Reload,
    #[serde(default)]
    shutdown: Shutdown,
}

/// A system as declared: its kind's settings, and what the gateway lets it
/// see.
#[derive(Debug, PartialEq, Deserialize)]
struct DeclaredSystem {
    #[serde(flatten)]
    system: SystemConfig,
    /// Its change events carry PII fields unredacted.
    #[serde(default)]
    sees_pii: bool,
}

/// Values given on the command line or in the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `CONTRACTGATE_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--contracts` / `CONTRACTGATE_CONTRACTS`.
    pub contracts: Option<PathBuf>,
    /// `--data` / `CONTRACTGATE_DATA`.
    pub data: Option<PathBuf>,
}

impl Config {
    /// Reads `file` (or `./contractgate.yaml` when present) and applies the
    /// overrides; with neither, the embedded default.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let default_file = Path::new("contractgate.yaml");
        let file = match file {
            Some(path) => Some(path),
            None => default_file.is_file().then_some(default_file),
        };
        let parsed = match file {
            Some(path) => parse_file(path)?,
            None => ConfigFile::default(),
        };
        Ok(resolve(parsed, overrides))
    }

    /// The embedded default for a contracts folder and a data folder (tests
    /// and the README's first command).
    pub fn embedded(contracts: &Path, data: &Path) -> Config {
        let overrides = Overrides {
            listen: None,
            contracts: Some(contracts.to_path_buf()),
            data: Some(data.to_path_buf()),
        };
        resolve(ConfigFile::default(), overrides)
    }

    /// How contracts load under this config: when it declares systems,
    /// every contract's owner must be one of them.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            systems: self
                .systems_declared
                .then(|| self.systems.keys().cloned().collect()),
            ..LoadOptions::default()
        }
    }

    /// Refuses to serve an open gateway (no `auth:`) on an address other
    /// machines can reach, unless the operator insists (`--insecure`).
    pub fn check_exposure(&self, insecure: bool) -> anyhow::Result<()> {
        if self.auth.is_none() && !self.listen.ip().is_loopback() && !insecure {
            bail!(
                "refusing to listen on {} without authentication: anyone who reaches it could read and write every record. \
                 Configure `auth:` in contractgate.yaml (README: \"Running in production\"), listen on a loopback address such as 127.0.0.1, \
                 or pass --insecure to serve it open anyway",
                self.listen
            );
        }
        Ok(())
    }

    /// The system that owns a contract which names `owner`.
    pub fn owner_of<'c>(&'c self, owner: Option<&'c str>) -> &'c str {
        if self.systems_declared {
            owner.unwrap_or_default()
        } else {
            EMBEDDED_SYSTEM
        }
    }
}

fn resolve(parsed: ConfigFile, overrides: Overrides) -> Config {
    let data = overrides
        .data
        .or(parsed.data)
        .unwrap_or_else(|| PathBuf::from("./data"));
    let systems_declared = !parsed.systems.is_empty();
    let pii_readers = parsed
        .systems
        .iter()
        .filter(|(_, declared)| declared.sees_pii)
        .map(|(name, _)| name.clone())
        .collect();
    let systems = if systems_declared {
        parsed
            .systems
            .into_iter()
            .map(|(name, declared)| (name, declared.system))
            .collect()
    } else {
        BTreeMap::from([(
            EMBEDDED_SYSTEM.to_owned(),
            SystemConfig::Sqlite {
                path: data.join("contractgate.db"),
            },
        )])
    };
    Config {
        listen: overrides
            .listen
            .or(parsed.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        contracts: overrides
            .contracts
            .or(parsed.contracts)
            .unwrap_or_else(|| PathBuf::from("./contracts")),
        data,
        systems,
        systems_declared,
        limits: parsed.limits.unwrap_or_default(),
        idempotency: parsed.idempotency.unwrap_or_default(),
        auth: parsed.auth,
        tls: parsed.tls,
        events: parsed.events,
        pii_readers,
        log: parsed.log,
        rejections: parsed.rejections,
        reload: parsed.reload,
        shutdown: parsed.shutdown,
    }
}

fn parse_file(path: &Path) -> anyhow::Result<ConfigFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed = parse_text(&text, |name| std::env::var(name).ok())
        .with_context(|| format!("invalid config {}", path.display()))?;
    if let Some(publish) = &parsed.events.publish_to {
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if publish.stream.is_empty() || !publish.stream.chars().all(plain) {
            bail!(
                "{}: events.publish_to.stream `{}` must be letters, digits, `_` or `-` (a JetStream stream name)",
                path.display(),
                publish.stream
            );
        }
    }
    if let Some(limits) = parsed.limits {
        if limits.json_depth == 0 || limits.json_depth > MAX_JSON_DEPTH {
            bail!(
                "{}: limits.json_depth must be between 1 and {MAX_JSON_DEPTH}",
                path.display()
            );
        }
        if limits.request_timeout_ms <= limits.timeout_ms {
            bail!(
                "{}: limits.request_timeout_ms ({}) must be larger than limits.timeout_ms ({}), so a slow owner is answered with its own 504 before the request times out",
                path.display(),
                limits.request_timeout_ms,
                limits.timeout_ms
            );
        }
    }
    if let Some(auth) = &parsed.auth {
        if auth.api_keys.is_empty() && auth.jwt.is_none() {
            bail!(
                "{}: auth declares neither api_keys nor jwt, so no caller could ever be let in",
                path.display()
            );
        }
    }
    if parsed.idempotency.is_some_and(|i| i.ttl_seconds == 0) {
        bail!(
            "{}: idempotency.ttl_seconds must be at least 1",
            path.display()
        );
    }
    Ok(parsed)
}

/// Parses the YAML first and expands `${NAME}` afterwards, inside string
/// values only: a reference in a comment is never looked at, and a secret
/// holding `"`, `#`, `: ` or a newline stays one string instead of
/// rewriting the document around it. `env` looks a variable up.
fn parse_text(text: &str, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<ConfigFile> {
    let mut document: serde_yaml::Value = serde_yaml::from_str(text)?;
    expand_strings(&mut document, "", &env)?;
    Ok(serde_yaml::from_value(document)?)
}

/// Expands the references in every string under `value` (mapping values
/// and sequence items; keys are names, never expanded). `at` is where
/// `value` sits, for the error.
fn expand_strings(
    value: &mut serde_yaml::Value,
    at: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    use serde_yaml::Value;
    match value {
        Value::String(text) => *text = expand_env(text, at, env)?,
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand_strings(item, &format!("{at}[{index}]"), env)?;
            }
        }
        Value::Mapping(entries) => {
            for (key, item) in entries.iter_mut() {
                // Keys that are not strings are refused when the document
                // is deserialised; here they only need a readable place.
                let name = key.as_str().unwrap_or("?");
                let path = if at.is_empty() {
                    name.to_owned()
                } else {
                    format!("{at}.{name}")
                };
                expand_strings(item, &path, env)?;
            }
        }
        Value::Tagged(tagged) => expand_strings(&mut tagged.value, at, env)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Replaces `${NAME}` in one string with the variable NAME, so secrets stay
/// out of the file. A missing variable is an error naming it and `at`,
/// never an empty string.
fn expand_env(
    text: &str,
    at: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("`${{` without a closing `}}` in {at}");
        };
        let name = &after[..end];
        let Some(value) = env(name) else {
            bail!("environment variable {name} is not set (referenced in {at})");
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contractgate.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_embedded_default_owns_everything() {
        let config = Config::embedded(Path::new("c"), Path::new("d"));
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert!(!config.systems_declared);
        assert_eq!(
            config.systems[EMBEDDED_SYSTEM],
            SystemConfig::Sqlite {
                path: PathBuf::from("d/contractgate.db")
            }
        );
        assert_eq!(config.owner_of(Some("crm")), EMBEDDED_SYSTEM);
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.idempotency.ttl(), Duration::from_secs(86_400));
    }

    #[test]
    fn the_file_is_read_and_overrides_beat_it() {
        let (_dir, path) = write(
            "listen: 127.0.0.1:9000\ncontracts: ./mine\nsystems:\n  crm: { kind: sqlite, path: ./crm.db }\nlimits: { body_bytes: 10 }\nidempotency: { ttl_seconds: 60 }\n",
        );
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.contracts, PathBuf::from("./mine"));
        assert!(config.systems_declared);
        assert_eq!(config.owner_of(Some("crm")), "crm");
        assert_eq!(config.limits.body_bytes, 10);
        assert_eq!(config.idempotency.ttl(), Duration::from_secs(60));
        assert_eq!(
            config.limits.json_depth, 128,
            "unset limits keep their defaults"
        );
        let overrides = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 1))),
            ..Overrides::default()
        };
        assert_eq!(
            Config::load(Some(&path), overrides).unwrap().listen.port(),
            1
        );
    }

    /// A lookup that knows only the variables given.
    fn variables<'v>(known: &'v [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'v {
        |name| {
            known
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn environment_references_are_expanded_and_a_missing_one_is_an_error() {
        let parsed = parse_text(
            "contracts: ${DIR}/contracts\ndata: ${DIR}\n",
            variables(&[("DIR", "/srv")]),
        )
        .unwrap();
        assert_eq!(parsed.contracts, Some(PathBuf::from("/srv/contracts")));
        assert_eq!(parsed.data, Some(PathBuf::from("/srv")));
        let error = format!(
            "{:#}",
            parse_text(
                "systems:\n  crm: { kind: sqlite, path: \"${CRM_PATH}\" }\n",
                variables(&[]),
            )
            .unwrap_err()
        );
        assert!(
            error.contains("CRM_PATH is not set") && error.contains("systems.crm.path"),
            "{error}"
        );
        assert!(parse_text("data: ${OPEN\n", variables(&[])).is_err());
    }

    #[test]
    fn a_reference_in_a_comment_is_never_expanded() {
        let (_dir, path) = write(
            "# data: ${CONTRACTGATE_SURELY_UNSET_VARIABLE}\ndata: ./here # or ${CONTRACTGATE_SURELY_UNSET_VARIABLE}\n",
        );
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(config.data, PathBuf::from("./here"));
    }

    #[test]
    fn a_secret_arrives_byte_for_byte_and_changes_nothing_else() {
        let secret = "p\"a#s: s\nlimits: { body_bytes: 1 }\n# ${NOT_A_REFERENCE} ";
        let parsed = parse_text(
            "systems:\n  crm: { kind: sqlite, path: \"${SECRET}\" }\nlimits: { body_bytes: 10 }\n",
            variables(&[("SECRET", secret)]),
        )
        .unwrap();
        assert_eq!(
            parsed.systems,
            BTreeMap::from([(
                "crm".to_owned(),
                DeclaredSystem {
                    system: SystemConfig::Sqlite {
                        path: PathBuf::from(secret)
                    },
                    sees_pii: false,
                }
            )])
        );
        assert_eq!(parsed.limits.map(|l| l.body_bytes), Some(10));
        assert_eq!(parsed.listen, None);
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let parsed = parse_text("# nothing set yet\n", variables(&[])).unwrap();
        assert!(parsed.systems.is_empty() && parsed.limits.is_none());
    }

    #[test]
    fn auth_limits_and_tls_are_read_and_the_secret_stays_out_of_debug() {
        // A PHC string is full of `$`: only `${` starts a reference.
        let text = r#"
auth:
  api_keys:
    - { name: billing, hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", scopes: [customer:write, "*:read", admin] }
  jwt:
    issuer: https://id.example.com
    audience: contractgate
    keys:
      - { algorithm: HS256, secret: "${JWT_SECRET}" }
      - { algorithm: RS256, file: keys/idp.pem, kid: idp-2026 }
    jwks: keys/jwks.json
limits: { request_timeout_ms: 20000, concurrency: 64, rate: { per_second: 50, burst: 100 } }
tls: { cert: tls/cert.pem, key: tls/key.pem }
"#;
        let parsed = parse_text(text, variables(&[("JWT_SECRET", "sesame-sesame")])).unwrap();
        let auth = parsed.auth.as_ref().unwrap();
        assert_eq!(
            auth.api_keys[0].hash,
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
        );
        assert_eq!(
            auth.api_keys[0].scopes,
            ["customer:write", "*:read", "admin"].map(|s| Scope::parse(s).unwrap())
        );
        let jwt = auth.jwt.as_ref().unwrap();
        assert!(
            matches!(&jwt.keys[0], JwtKeyConfig::Hs256 { secret, .. } if secret.expose() == "sesame-sesame")
        );
        assert!(
            matches!(&jwt.keys[1], JwtKeyConfig::Rs256 { kid: Some(kid), .. } if kid == "idp-2026")
        );
        assert!(!format!("{parsed:?}").contains("sesame"));
        let limits = parsed.limits.unwrap();
        assert_eq!(
            (
                limits.request_timeout_ms,
                limits.concurrency.get(),
                limits.timeout_ms
            ),
            (20_000, 64, 10_000)
        );
        assert_eq!(
            limits.rate.map(|r| (r.per_second.get(), r.burst.get())),
            Some((50, 100))
        );
        assert_eq!(parsed.tls.unwrap().cert, PathBuf::from("tls/cert.pem"));
        let error = parse_text(
            "auth: { api_keys: [{ name: x, hash: h, scopes: [customer:delete] }] }\n",
            variables(&[]),
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("`customer:delete` is not a scope"),
            "{error:#}"
        );
    }

    #[test]
    fn an_open_gateway_stays_on_loopback_unless_told_otherwise() {
        let mut config = Config::embedded(Path::new("c"), Path::new("d"));
        for address in ["127.0.0.1:8080", "[::1]:8080"] {
            config.listen = address.parse().unwrap();
            assert!(config.check_exposure(false).is_ok(), "{address}");
        }
        config.listen = "0.0.0.0:8080".parse().unwrap();
        let error = config.check_exposure(false).unwrap_err().to_string();
        assert!(
            error.contains("0.0.0.0:8080 without authentication") && error.contains("--insecure"),
            "{error}"
        );
        assert!(config.check_exposure(true).is_ok());
        config.auth = Some(AuthConfig {
            api_keys: Vec::new(),
            jwt: None,
        });
        assert!(config.check_exposure(false).is_ok());
    }

    #[test]
    fn events_name_a_stream_and_a_retention_in_days_hours_minutes_or_seconds() {
        let (_dir, path) = write(
            "events: { publish_to: { url: \"nats://127.0.0.1:4222\", stream: CHANGES }, retention: 2d }\n",
        );
        let events = Config::load(Some(&path), Overrides::default())
            .unwrap()
            .events;
        let publish = events.publish_to.expect("a broker");
        assert_eq!(publish.url, "nats://127.0.0.1:4222");
        assert_eq!(publish.subject_prefix(), "changes");
        assert_eq!(publish.ca, None);
        assert_eq!(events.retention, Duration::from_secs(2 * 24 * 3600));
        let (_dir, path) = write(
            "events: { publish_to: { url: \"tls://nats:4222\", stream: CHANGES, ca: /etc/nats-ca.pem } }\n",
        );
        let publish = Config::load(Some(&path), Overrides::default())
            .unwrap()
            .events
            .publish_to
            .expect("a broker");
        assert_eq!(publish.ca.as_deref(), Some(Path::new("/etc/nats-ca.pem")));
        for (written, seconds) in [("90", 90), ("90s", 90), ("5m", 300), ("12h", 43_200)] {
            let (_dir, path) = write(&format!("events: {{ retention: {written} }}\n"));
            let events = Config::load(Some(&path), Overrides::default())
                .unwrap()
                .events;
            assert_eq!(events.retention, Duration::from_secs(seconds), "{written}");
            assert_eq!(events.publish_to, None);
        }
        let embedded = Config::embedded(Path::new("c"), Path::new("d")).events;
        assert_eq!(embedded.retention, Duration::from_secs(7 * 24 * 3600));
    }

    #[test]
    fn a_bad_retention_or_stream_name_is_refused() {
        for bad in ["retention: 7 weeks", "retention: d", "retention: -1"] {
            let (_dir, path) = write(&format!("events: {{ {bad} }}\n"));
            let error = format!(
                "{:#}",
                Config::load(Some(&path), Overrides::default()).unwrap_err()
            );
            assert!(error.contains("contractgate.yaml"), "{bad}: {error}");
        }
        let (_dir, path) = write("events: { retention: 7w }\n");
        let error = format!(
            "{:#}",
            Config::load(Some(&path), Overrides::default()).unwrap_err()
        );
        assert!(error.contains("`7w` is not a duration"), "{error}");
        let (_dir, path) = write("events: { publish_to: { url: \"nats://h\", stream: a.b } }\n");
        let error = format!(
            "{:#}",
            Config::load(Some(&path), Overrides::default()).unwrap_err()
        );
        assert!(error.contains("stream `a.b`"), "{error}");
    }

    #[test]
    fn bad_files_are_refused_with_their_name() {
        let (_dir, path) = write("systems:\n  crm: { kind: oracle }\n");
        let error = format!(
            "{:#}",
            Config::load(Some(&path), Overrides::default()).unwrap_err()
        );
        assert!(
            error.contains("contractgate.yaml") && error.contains("oracle"),
            "{error}"
        );
        let (_dir, path) = write("limits: { json_depth: 1000 }\n");
        let error = format!(
            "{:#}",
            Config::load(Some(&path), Overrides::default()).unwrap_err()
        );
        assert!(
            error.contains("json_depth must be between 1 and 128"),
            "{error}"
        );
        let (_dir, path) = write("idempotency: { ttl_seconds: 0 }\n");
        let error = format!(
            "{:#}",
            Config::load(Some(&path), Overrides::default()).unwrap_err()
        );
        assert!(
            error.contains("idempotency.ttl_seconds must be at least 1"),
            "{error}"
        );
        for (text, expected) in [
            (
                "limits: { timeout_ms: 30000 }\n",
                "request_timeout_ms (30000) must be larger than limits.timeout_ms (30000)",
            ),
            ("limits: { concurrency: 0 }\n", "nonzero"),
            ("auth: {}\n", "neither api_keys nor jwt"),
        ] {
            let (_dir, path) = write(text);
            let error = format!(
                "{:#}",
                Config::load(Some(&path), Overrides::default()).unwrap_err()
            );
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn operations_settings_are_read_and_default() {
        let (_dir, path) = write(
            "systems:\n  crm: { kind: sqlite, path: ./crm.db, sees_pii: true }\n  shop: { kind: sqlite, path: ./shop.db }\nlog: { format: json }\nrejections: { max_per_contract: 5 }\nreload: { watch: false }\nshutdown: { deadline_ms: 100 }\n",
        );
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(config.pii_readers, BTreeSet::from(["crm".to_owned()]));
        assert_eq!(
            config.systems["crm"],
            SystemConfig::Sqlite {
                path: PathBuf::from("./crm.db")
            }
        );
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.rejections.max_per_contract, 5);
        assert_eq!(config.rejections.max_age_hours, 168, "unset: the default");
        assert!(!config.reload.watch);
        assert_eq!(config.shutdown.deadline_ms, 100);
        let embedded = Config::embedded(Path::new("c"), Path::new("d"));
        assert!(embedded.pii_readers.is_empty() && embedded.reload.watch);
        assert_eq!(embedded.log.format, LogFormat::Pretty);
        // A misspelt setting of a system is still refused.
        let (_dir, path) =
            write("systems:\n  crm: { kind: sqlite, path: ./crm.db, sees_pi: true }\n");
        let error = format!(
            "{:#}",
            Config::load(Some(&path), Overrides::default()).unwrap_err()
        );
        assert!(error.contains("sees_pi"), "{error}");
    }
}

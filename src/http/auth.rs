//! Who is calling, and what may they do. The [`authenticate`] layer turns
//! the `Authorization` header into a [`Principal`] (401 when it does not
//! check out) and puts it in the request's extensions; handlers call
//! [`require`] with the action they are about to take (403 without the
//! scope) before they look the contract up. Neither answer depends on
//! whether the contract exists, so a caller cannot probe for contracts it
//! may not see.

mod api_key;
mod jwt;

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

pub use api_key::hash_key;

use super::problem::Problem;
use crate::config::AuthConfig;
use crate::contract::ContractName;

/// What a request does; each action needs a scope of its own (writing
/// does not imply reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read records, and see the contract and its schemas.
    Read,
    /// Create, replace, patch or delete records.
    Write,
    /// Dry-run a payload against a version.
    Validate,
    /// Run the gateway: reload, rejections.
    Admin,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Validate => "validate",
            Action::Admin => "admin",
        })
    }
}

/// One permission, written `customer:write`, `*:read` (every contract) or
/// `admin`; parsed where it enters, from the config or a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Scope {
    /// The contract it covers; `None` for every contract, and for `admin`.
    contract: Option<ContractName>,
    action: Action,
}

impl Scope {
    /// Parses `contract:action`, `*:action` or `admin`.
    pub fn parse(text: &str) -> Result<Scope, String> {
        if text == "admin" {
            return Ok(Scope {
                contract: None,
                action: Action::Admin,
            });
        }
        let wrong = || {
            format!("`{text}` is not a scope: write `contract:read`, `contract:write`, `contract:validate` (`*` for every contract) or `admin`")
        };
        let (contract, action) = text.split_once(':').ok_or_else(wrong)?;
        let action = match action {
            "read" => Action::Read,
            "write" => Action::Write,
            "validate" => Action::Validate,
            _ => return Err(wrong()),
        };
        let contract = match contract {
            "*" => None,
            name => Some(
                ContractName::parse(name)
                    .map_err(|error| format!("`{text}` is not a scope: {error}"))?,
            ),
        };
        Ok(Scope { contract, action })
    }

    /// Whether it lets its holder take `action` on `contract`.
    fn allows(&self, contract: Option<&ContractName>, action: Action) -> bool {
        self.action == action && (self.contract.is_none() || self.contract.as_ref() == contract)
    }
}

impl TryFrom<String> for Scope {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Scope::parse(&text)
    }
}

/// Who a request comes from: an API key's holder, a token's subject, or
/// the anonymous caller of an open gateway. The [`authenticate`] layer
/// puts it in every request's extensions (`Extension<Principal>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's `name` or the token's `sub`; rate limits are kept per name.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// The caller of a gateway without `auth:`: it may do everything,
    /// which is why `serve` keeps such a gateway on loopback.
    pub fn anonymous() -> Principal {
        let every = |action| Scope {
            contract: None,
            action,
        };
        Principal {
            name: "anonymous".to_owned(),
            scopes: [Action::Read, Action::Write, Action::Validate, Action::Admin]
                .map(every)
                .to_vec(),
        }
    }

    /// Whether one of its scopes lets it take `action` on `contract`
    /// (`None`: no particular contract, which only `*` scopes cover).
    pub fn may(&self, contract: Option<&ContractName>, action: Action) -> bool {
        self.scopes
            .iter()
            .any(|scope| scope.allows(contract, action))
    }
}

/// 403 unless `principal` may take `action` on `contract` (`None`: no
/// particular contract; `admin` needs none).
pub fn require(
    principal: &Principal,
    contract: Option<&ContractName>,
    action: Action,
) -> Result<(), Problem> {
    check(
        principal,
        contract,
        contract.map_or("*", ContractName::as_str),
        &[action],
    )
}

/// 403 unless `principal` may take one of `actions` on the contract a URL
/// names. A name no contract can have is judged like an unknown contract:
/// only a `*` scope lets the request on (to its 404).
pub fn require_named(principal: &Principal, name: &str, actions: &[Action]) -> Result<(), Problem> {
    check(
        principal,
        ContractName::parse(name).ok().as_ref(),
        name,
        actions,
    )
}

/// The actions that let a principal see a contract and its schemas.
pub const SEE: &[Action] = &[Action::Read, Action::Write, Action::Validate];

fn check(
    principal: &Principal,
    contract: Option<&ContractName>,
    shown: &str,
    actions: &[Action],
) -> Result<(), Problem> {
    if actions
        .iter()
        .any(|&action| principal.may(contract, action))
    {
        return Ok(());
    }
    let needed: Vec<String> = actions
        .iter()
        .map(|action| match action {
            Action::Admin => "`admin`".to_owned(),
            action => format!("`{shown}:{action}`"),
        })
        .collect();
    Err(Problem::forbidden(format!(
        "`{}` lacks the scope {}",
        principal.name,
        needed.join(" or ")
    )))
}

/// Checks credentials against the API keys and JWT keys of `auth:`.
pub struct Authenticator {
    api_keys: Option<api_key::ApiKeys>,
    jwt: Option<jwt::JwtVerifier>,
}

/// The `Authorization` scheme of API keys: `Authorization: ApiKey <key>`.
const API_KEY_SCHEME: &str = "ApiKey";
/// The `Authorization` scheme of JWTs (RFC 6750).
const BEARER_SCHEME: &str = "Bearer";

impl Authenticator {
    /// Reads the keys `auth:` names: a hash that is not Argon2, a key file
    /// that does not read, stop the start with a message naming it.
    pub fn new(config: &AuthConfig) -> anyhow::Result<Authenticator> {
        Ok(Authenticator {
            api_keys: (!config.api_keys.is_empty())
                .then(|| api_key::ApiKeys::new(&config.api_keys))
                .transpose()?,
            jwt: config.jwt.as_ref().map(jwt::JwtVerifier::new).transpose()?,
        })
    }

    /// The principal a request's credentials name.
    async fn principal(&self, headers: &HeaderMap) -> Result<Principal, Problem> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(self.unauthorized(
                format!("the request carries no credentials; {}", self.how()),
                false,
            ));
        };
        let (scheme, credentials) = value
            .to_str()
            .ok()
            .and_then(|text| text.split_once(' '))
            .map(|(scheme, credentials)| (scheme, credentials.trim()))
            .unwrap_or_default();
        if let (true, Some(api_keys)) =
            (scheme.eq_ignore_ascii_case(API_KEY_SCHEME), &self.api_keys)
        {
            return api_keys.principal(credentials).await.ok_or_else(|| {
                self.unauthorized(
                    "the API key is not one this gateway knows".to_owned(),
                    false,
                )
            });
        }
        if let (true, Some(jwt)) = (scheme.eq_ignore_ascii_case(BEARER_SCHEME), &self.jwt) {
            return jwt.principal(credentials).map_err(|reason| {
                self.unauthorized(format!("the bearer token was refused: {reason}"), true)
            });
        }
        Err(self.unauthorized(
            format!(
                "`Authorization` is not in a form this gateway takes; {}",
                self.how()
            ),
            false,
        ))
    }

    /// How to send credentials, for the schemes configured.
    fn how(&self) -> String {
        let mut forms = Vec::new();
        if self.api_keys.is_some() {
            forms.push(format!("`Authorization: {API_KEY_SCHEME} <key>`"));
        }
        if self.jwt.is_some() {
            forms.push(format!("`Authorization: {BEARER_SCHEME} <JWT>`"));
        }
        format!("send {}", forms.join(" or "))
    }

    /// A 401 whose `WWW-Authenticate` offers every configured scheme;
    /// `invalid_token` marks a bearer token that was refused (RFC 6750 §3.1).
    fn unauthorized(&self, detail: String, invalid_token: bool) -> Problem {
        let mut challenges = Vec::new();
        if self.api_keys.is_some() {
            challenges.push(format!("{API_KEY_SCHEME} realm=\"contractgate\""));
        }
        if self.jwt.is_some() {
            let error = if invalid_token {
                ", error=\"invalid_token\""
            } else {
                ""
            };
            challenges.push(format!("{BEARER_SCHEME} realm=\"contractgate\"{error}"));
        }
        Problem::unauthorized(detail, challenges.join(", "))
    }
}

/// The authentication layer: every request it wraps leaves with a
/// [`Principal`] in its extensions or is answered 401. Without an
/// authenticator (no `auth:`), the caller is [`Principal::anonymous`].
pub async fn authenticate(
    State(authenticator): State<Option<Arc<Authenticator>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match &authenticator {
        None => Principal::anonymous(),
        Some(authenticator) => match authenticator.principal(request.headers()).await {
            Ok(principal) => principal,
            Err(problem) => return problem.into_response(),
        },
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &[&str]) -> Principal {
        Principal {
            name: "p".to_owned(),
            scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
        }
    }

    fn name(text: &str) -> ContractName {
        ContractName::parse(text).unwrap()
    }

    #[test]
    fn scopes_are_parsed_or_refused_with_the_forms_that_work() {
        for bad in [
            "customer",
            "customer:delete",
            "Customer:read",
            ":read",
            "*:admin",
        ] {
            let error = Scope::parse(bad).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
        // `admin` is a scope of its own; a contract may still be named so.
        assert!(Scope::parse("admin:read").is_ok());
        assert_eq!(
            Scope::parse("*:validate").unwrap(),
            Scope {
                contract: None,
                action: Action::Validate
            }
        );
    }

    #[test]
    fn a_scope_covers_its_contract_and_action_only() {
        let reader = principal(&["customer:read", "*:validate"]);
        assert!(reader.may(Some(&name("customer")), Action::Read));
        assert!(!reader.may(Some(&name("customer")), Action::Write));
        assert!(!reader.may(Some(&name("order")), Action::Read));
        assert!(!reader.may(None, Action::Read), "a named scope is not `*`");
        assert!(reader.may(Some(&name("order")), Action::Validate));
        assert!(reader.may(None, Action::Validate));
        assert!(!reader.may(None, Action::Admin));
        let admin = principal(&["admin"]);
        assert!(admin.may(None, Action::Admin) && admin.may(Some(&name("order")), Action::Admin));
        assert!(
            !admin.may(Some(&name("order")), Action::Read),
            "admin is not a data scope"
        );
    }

    #[test]
    fn the_anonymous_principal_may_do_everything() {
        let anonymous = Principal::anonymous();
        for action in [Action::Read, Action::Write, Action::Validate, Action::Admin] {
            assert!(anonymous.may(Some(&name("x")), action) && anonymous.may(None, action));
        }
    }

    #[test]
    fn forbidden_names_the_scope_missing_whether_or_not_the_name_can_exist() {
        let reader = principal(&["customer:read"]);
        assert!(require_named(&reader, "customer", &[Action::Read]).is_ok());
        for (contract, scope) in [
            ("order", "`order:write`"),
            ("Not A Name", "`Not A Name:write`"),
        ] {
            let problem = require_named(&reader, contract, &[Action::Write]).unwrap_err();
            let body = serde_json::to_value(&problem).unwrap();
            assert_eq!(body["status"], 403);
            assert_eq!(body["detail"], format!("`p` lacks the scope {scope}"));
        }
        let everyone = principal(&["*:write"]);
        assert!(require_named(&everyone, "Not A Name", &[Action::Write]).is_ok());
        let problem = require(&reader, None, Action::Admin).unwrap_err();
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(body["detail"], "`p` lacks the scope `admin`");
        let problem = require_named(&principal(&[]), "order", SEE).unwrap_err();
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(
            body["detail"],
            "`p` lacks the scope `order:read` or `order:write` or `order:validate`"
        );
    }
}

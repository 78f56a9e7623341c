//! Who is calling, and what they may do. This is the open mode only: every
//! request is made by an anonymous principal holding every scope. The
//! authentication layers (API keys, JWT) replace [`open`] and build real
//! principals; [`Principal`], [`Action`] and [`require`] are the interface
//! the routes use either way.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::problem::Problem;
use crate::contract::ContractName;

/// The caller of a request, inserted as a request extension by the
/// authentication layer: its name (logs, metrics, the rejection store) and
/// its scopes (`customer:write`, `*:read`, `admin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who it is.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<String>,
}

impl Principal {
    /// The caller of an open gateway: no credentials, every scope.
    pub fn anonymous() -> Self {
        Principal {
            name: "anonymous".to_owned(),
            scopes: vec!["admin".to_owned(), "*:*".to_owned()],
        }
    }
}

/// What a request does, as scopes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read records.
    Read,
    /// Create, replace, patch or delete records.
    Write,
    /// Dry-run a payload.
    Validate,
    /// Operate the gateway: reload, the rejection store.
    Admin,
}

impl Action {
    fn scope(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Validate => "validate",
            Action::Admin => "admin",
        }
    }
}

/// Refuses (403) a principal without the scope for `action` on `contract`
/// (`None`: on the gateway as a whole). `admin` is a scope of its own.
pub fn require(
    principal: &Principal,
    contract: Option<&ContractName>,
    action: Action,
) -> Result<(), Problem> {
    let held = |scope: &str| principal.scopes.iter().any(|s| s == scope);
    let allowed = match (action, contract) {
        (Action::Admin, _) => held("admin"),
        (action, contract) => {
            let name = contract.map_or("*", ContractName::as_str);
            [
                "*:*".to_owned(),
                format!("*:{}", action.scope()),
                format!("{name}:{}", action.scope()),
            ]
            .iter()
            .any(|scope| held(scope))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "`{}` lacks the scope to {} here",
            principal.name,
            action.scope()
        )))
    }
}

/// The open mode's layer: every request is the anonymous principal's.
pub async fn open(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Principal::anonymous());
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_per_contract_and_action_and_admin_is_its_own() {
        let customer = ContractName::parse("customer").unwrap();
        let order = ContractName::parse("order").unwrap();
        let shop = Principal {
            name: "shop".to_owned(),
            scopes: vec!["customer:write".to_owned(), "*:read".to_owned()],
        };
        assert!(require(&shop, Some(&customer), Action::Write).is_ok());
        assert!(require(&shop, Some(&order), Action::Read).is_ok());
        assert!(require(&shop, Some(&order), Action::Write).is_err());
        assert!(require(&shop, None, Action::Admin).is_err());
        let anonymous = Principal::anonymous();
        assert!(require(&anonymous, None, Action::Admin).is_ok());
        assert!(require(&anonymous, Some(&order), Action::Validate).is_ok());
    }
}

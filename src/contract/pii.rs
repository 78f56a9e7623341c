//! PII in messages: a violation's message may quote the value it is about
//! (`"nope" is not a "email"`), so a message that could show a value of a
//! field tagged `pii` is replaced before it reaches an answer, a log line
//! or the rejection store. Change events use [`Contract::redact`].

use serde_json::Value;

use super::model::Contract;
use super::schema::Violation;

impl Contract {
    /// The values of a payload's PII fields as a message would quote them:
    /// every string inside them as it is, every other scalar as JSON.
    pub fn pii_texts(&self, payload: &Value) -> Vec<String> {
        let mut texts = Vec::new();
        for pointer in &self.pii {
            if let Some(value) = pointer.get(payload) {
                collect_scalars(value, &mut texts);
            }
        }
        texts
    }

    /// Replaces the message of every violation that could show a PII
    /// value: one at or under a PII field, or one quoting any of `texts`
    /// (from [`Contract::pii_texts`] of the payload checked), as a message
    /// about an enclosing object may.
    pub fn redact_violations(&self, violations: &mut [Violation], texts: &[String]) {
        for violation in violations {
            let under_pii = self.pii.iter().any(|pii| {
                let pii = pii.as_str();
                violation.pointer == pii
                    || violation
                        .pointer
                        .strip_prefix(pii)
                        .is_some_and(|rest| rest.starts_with('/'))
            });
            let quotes = texts.iter().any(|text| violation.message.contains(text));
            if under_pii || quotes {
                violation.message = format!(
                    "`{}` failed (the message is withheld: it would show a value tagged pii)",
                    violation.keyword
                );
            }
        }
    }
}

fn collect_scalars(value: &Value, texts: &mut Vec<String>) {
    match value {
        Value::String(text) if !text.is_empty() => texts.push(text.clone()),
        Value::String(_) | Value::Null => {}
        Value::Array(items) => items.iter().for_each(|item| collect_scalars(item, texts)),
        Value::Object(fields) => fields
            .values()
            .for_each(|item| collect_scalars(item, texts)),
        Value::Bool(_) | Value::Number(_) => texts.push(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use crate::contract::{LoadOptions, Registry, Version};

    #[test]
    fn messages_that_could_show_pii_are_withheld_and_others_kept() {
        let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
        let registry = Registry::load(&contracts, &LoadOptions::default()).unwrap();
        let customer = registry.get("customer").unwrap();
        let payload = json!({
            "id": "c-1", "full_name": "", "email": "not-an-email@", "phone": "12",
            "tier": "gold", "bogus": {"copy": "not-an-email@"}
        });
        let texts = customer.pii_texts(&payload);
        assert_eq!(texts, ["not-an-email@", "12"]);
        let v2 = Version::new(2).unwrap();
        let mut rejection = customer.accept(v2, payload).unwrap_err();
        let before = rejection.violations.clone();
        assert!(
            before.iter().any(|v| v.message.contains("not-an-email@")),
            "the schema's messages quote values: {before:?}"
        );
        customer.redact_violations(&mut rejection.violations, &texts);
        let after = &rejection.violations;
        assert_eq!(after.len(), before.len());
        for (redacted, original) in after.iter().zip(&before) {
            assert_eq!(
                (&redacted.pointer, &redacted.keyword),
                (&original.pointer, &original.keyword),
                "only messages change"
            );
            assert!(
                !redacted.message.contains("not-an-email@") && !redacted.message.contains("\"12\""),
                "{redacted:?}"
            );
        }
        let name = after.iter().find(|v| v.pointer == "/full_name").unwrap();
        assert!(!name.message.contains("withheld"), "{name:?}");
        let phone = after.iter().find(|v| v.pointer == "/phone").unwrap();
        assert!(phone.message.contains("withheld"), "{phone:?}");
    }
}

//! Domain rules: what a schema cannot say (`self.end > self.start`,
//! `size(self.lines) == self.line_count`), as named CEL expressions over the
//! payload, bound to `self`. Each is parsed once when its contract loads;
//! run on a payload that already passed its schema, a rule that does not
//! hold, or that cannot be evaluated (a field it reads is absent), is one
//! more violation in the same list, never a failure of the gateway.

use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::{Context, Program, Value as Cel};
use cel_parser::ast::{EntryExpr, Expr, IdedExpr};
use serde::Deserialize;
use serde_json::Value;

use super::pointer::JsonPointer;
use super::schema::Violation;

/// A rule as `contract.yaml` writes it under a version's `rules:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    name: String,
    expr: String,
    message: String,
    #[serde(default)]
    pointer: Option<JsonPointer>,
}

/// A compiled rule.
pub struct Rule {
    /// Its name, unique within the version.
    pub name: String,
    /// The CEL expression as written.
    pub expr: String,
    /// What a client is told when it does not hold.
    pub message: String,
    /// Where in the payload the violation points; the payload itself when
    /// absent.
    pub pointer: Option<JsonPointer>,
    program: Program,
    /// The payload's top-level fields the rule reads, when it reads `self`
    /// only through them; `None` when it uses `self` whole.
    reads: Option<Vec<String>>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("expr", &self.expr)
            .finish_non_exhaustive()
    }
}

impl Rule {
    /// Parses the rule's expression; the error says what CEL could not read.
    /// cel-parser panics on some malformed input (an expression cut short,
    /// `a ==`) instead of returning its error; that panic is a refusal too.
    pub(super) fn compile(file: RuleFile) -> Result<Rule, String> {
        let refused =
            |why: String| format!("rule `{}` does not compile: {}", file.name, why.trim());
        let program = std::panic::catch_unwind(|| Program::compile(&file.expr))
            .map_err(|_| refused("the CEL parser failed on it".to_owned()))?
            .map_err(|e| refused(e.to_string()))?;
        // The interpreter keeps its syntax tree to itself: the parser it
        // uses reads the expression again, for the fields it reads.
        let reads = cel_parser::Parser::default()
            .parse(&file.expr)
            .ok()
            .and_then(|tree| {
                let mut fields = Vec::new();
                reads_self_through_fields(&tree, &mut fields).then_some(fields)
            });
        Ok(Rule {
            name: file.name,
            expr: file.expr,
            message: file.message,
            pointer: file.pointer,
            program,
            reads,
        })
    }

    /// The violation, when the rule does not hold for `payload` or cannot
    /// be evaluated on it.
    fn check(&self, context: &Context) -> Option<Violation> {
        // A panic in the interpreter must not take the request down with it.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.program.execute(context)
        }));
        let message = match result {
            Ok(Ok(Cel::Bool(true))) => return None,
            Ok(Ok(Cel::Bool(false))) => self.message.clone(),
            Ok(Ok(other)) => format!(
                "{} (rule `{}` gave {other:?}, not true or false)",
                self.message, self.name
            ),
            Ok(Err(error)) => format!(
                "{} (rule `{}` could not be evaluated: {error})",
                self.message, self.name
            ),
            Err(_) => format!(
                "{} (rule `{}` could not be evaluated: the CEL interpreter failed)",
                self.message, self.name
            ),
        };
        Some(Violation {
            pointer: self
                .pointer
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            keyword: "rule".to_owned(),
            schema_location: format!("/rules/{}", self.name),
            message,
        })
    }
}

/// CEL's standard functions, registered once: a context of its own per
/// payload would register them all again for every write.
static FUNCTIONS: std::sync::LazyLock<Context<'static>> =
    std::sync::LazyLock::new(Context::default);

/// Every rule of `rules` that `payload` breaks.
pub fn check_all(rules: &[Rule], payload: &Value) -> Vec<Violation> {
    if rules.is_empty() {
        return Vec::new();
    }
    let mut context = FUNCTIONS.new_inner_scope();
    context.add_variable_from_value("self", self_of(rules, payload));
    rules
        .iter()
        .filter_map(|rule| rule.check(&context))
        .collect()
}

/// `self` for `rules`: only the fields they read, where each reads `self`
/// only through its fields (most rules compare a few fields of a larger
/// record), else the whole payload.
fn self_of(rules: &[Rule], payload: &Value) -> Cel {
    let Value::Object(object) = payload else {
        return to_cel(payload);
    };
    let mut entries = HashMap::new();
    for rule in rules {
        let Some(fields) = &rule.reads else {
            return to_cel(payload);
        };
        for field in fields {
            if let Some(value) = object.get(field) {
                entries
                    .entry(field.clone())
                    .or_insert_with(|| to_cel(value));
            }
        }
    }
    Cel::Map(entries.into())
}

/// Whether `expr` reads `self` only as `self.<field>` (or `has(...)` of
/// it), adding those fields to `fields`. A `self` used otherwise (whole,
/// indexed, or shadowed by a comprehension's variable) makes it false.
fn reads_self_through_fields(expr: &IdedExpr, fields: &mut Vec<String>) -> bool {
    match &expr.expr {
        Expr::Select(select) => match &select.operand.expr {
            Expr::Ident(name) if name == "self" => {
                fields.push(select.field.clone());
                true
            }
            _ => reads_self_through_fields(&select.operand, fields),
        },
        Expr::Ident(name) => name != "self",
        Expr::Call(call) => all_read(call.target.as_deref().into_iter().chain(&call.args), fields),
        Expr::Comprehension(c) => all_read(
            [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]
            .map(|part| &**part),
            fields,
        ),
        Expr::List(list) => all_read(&list.elements, fields),
        Expr::Map(map) => all_read(map.entries.iter().flat_map(entry_exprs), fields),
        Expr::Struct(object) => all_read(object.entries.iter().flat_map(entry_exprs), fields),
        Expr::Literal(_) | Expr::Unspecified => true,
    }
}

fn all_read<'a>(exprs: impl IntoIterator<Item = &'a IdedExpr>, fields: &mut Vec<String>) -> bool {
    exprs
        .into_iter()
        .all(|expr| reads_self_through_fields(expr, fields))
}

/// The expressions of a map or struct literal's entry.
fn entry_exprs(entry: &cel_parser::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::StructField(field) => vec![&field.value],
        EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
    }
}

/// JSON as CEL values. Integers are CEL `int` when they fit (so that
/// `self.count > 0` compares like with like), `uint` above that.
fn to_cel(value: &Value) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(u)) => Cel::UInt(u),
            _ => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(items) => Cel::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let entries: HashMap<String, Cel> =
                map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            Cel::Map(entries.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(expr: &str) -> Result<Rule, String> {
        Rule::compile(RuleFile {
            name: "r".to_owned(),
            expr: expr.to_owned(),
            message: "it must hold".to_owned(),
            pointer: Some(JsonPointer::parse("/tier").unwrap()),
        })
    }

    fn broken(expr: &str, payload: Value) -> Vec<Violation> {
        check_all(&[rule(expr).unwrap()], &payload)
    }

    #[test]
    fn the_designs_rule_holds_or_names_its_pointer() {
        let vip = "!(has(self.tags) && 'vip' in self.tags) || self.tier != 'standard'";
        assert!(broken(vip, json!({"tier": "standard"})).is_empty());
        assert!(broken(vip, json!({"tier": "gold", "tags": ["vip"]})).is_empty());
        let found = broken(vip, json!({"tier": "standard", "tags": ["vip"]}));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].pointer.as_str(), found[0].keyword.as_str()),
            ("/tier", "rule")
        );
        assert_eq!(found[0].message, "it must hold");
        assert_eq!(found[0].schema_location, "/rules/r");
    }

    #[test]
    fn numbers_compare_across_json_spellings_and_lists_have_sizes() {
        let lines = "size(self.lines) == self.count && self.total > 0.5 && self.big > 0";
        let payload = json!({"lines": [1, 2], "count": 2, "total": 1, "big": u64::MAX});
        assert!(broken(lines, payload).is_empty());
    }

    #[test]
    fn a_rule_that_cannot_be_evaluated_or_gives_no_boolean_is_a_violation() {
        let missing = broken("self.end > self.start", json!({"start": 1}));
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0].message.contains("could not be evaluated"),
            "{missing:?}"
        );
        let number = broken("size(self.tags)", json!({"tags": []}));
        assert!(
            number[0].message.contains("not true or false"),
            "{number:?}"
        );
    }

    #[test]
    fn a_rule_reading_fields_of_self_is_given_those_fields_and_any_other_the_whole_payload() {
        let reads = |expr: &str| rule(expr).unwrap().reads;
        let vip = "!(has(self.tags) && 'vip' in self.tags) || self.tier != 'standard'";
        assert_eq!(
            reads(vip),
            Some(vec!["tags".into(), "tags".into(), "tier".into()])
        );
        assert_eq!(
            reads("self.address.city == 'London'"),
            Some(vec!["address".into()])
        );
        for whole in [
            "size(self) == 3",
            "self['tier'] == 'gold'",
            "self == {'tier': 'gold'}",
            "[1].all(self, self > 0) && self.tier == 'gold'",
        ] {
            assert_eq!(reads(whole), None, "{whole}");
        }
        let payload = json!({"tier": "gold", "tags": [], "address": {"city": "London"}});
        for holds in [
            "size(self) == 3",
            "self.address.city == 'London' && !has(self.phones)",
        ] {
            assert!(broken(holds, payload.clone()).is_empty(), "{holds}");
        }
        // One rule that needs the whole payload gives it to all of them.
        let rules = [
            rule("size(self) == 3").unwrap(),
            rule("self.tier == 'gold'").unwrap(),
        ];
        assert!(check_all(&rules, &payload).is_empty());
        assert_eq!(check_all(&rules, &json!({"tier": "gold"})).len(), 1);
    }

    #[test]
    fn a_rule_that_does_not_parse_is_refused_with_its_name() {
        for expr in ["self.tier ==", "self.tier == 'gold", "(", "self..x"] {
            let error = rule(expr).unwrap_err();
            assert!(
                error.starts_with("rule `r` does not compile"),
                "{expr}: {error}"
            );
        }
    }
}

//! Payloads generated from a schema, for `check` (every declared upgrade
//! and downgrade is run on them) and the compatibility soundness test.
//!
//! Strategies are proptest's, so a failure shrinks to a minimal payload,
//! and the runner is seeded: the same schema gives the same payloads on
//! every run, in CI and on a laptop alike.

use std::collections::HashMap;
use std::fmt::Debug;

use apache_avro::types::Value as Avro;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use serde_json::{json, Map, Value};

/// Schema nesting past which JSON instances are arbitrary values: it bounds
/// recursive `$ref`s.
const JSON_DEPTH: u32 = 6;
/// Avro nesting past which arrays and maps are empty.
const AVRO_DEPTH: u32 = 4;
/// Avro nesting past which named references are not followed: it bounds
/// recursive types (a union with null), which arrays and maps alone do not.
const AVRO_REF_DEPTH: u32 = 8;
/// Characters of generated strings: letters plus the ones formats care about.
const ALPHABET: &str = "abcxyz@.1 B";
/// Property names tried besides the ones the schemas mention.
const OTHER_NAMES: [&str; 4] = ["x_a", "zz", "abc", "n"];
/// Every JSON Schema type, for a schema that does not restrict it.
const ALL_TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "string", "integer", "number",
];

/// Runs `check` on `cases` instances of `strategy`, always the same ones
/// (a fixed seed; failures are not persisted to files). `check`'s `Err`
/// names its instance; the one returned is for the minimal instance
/// proptest shrinks a failure to.
pub fn run<S>(
    strategy: S,
    cases: u32,
    check: impl Fn(S::Value) -> Result<(), String>,
) -> Result<(), String>
where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    // XorShift, not ChaCha: unoptimised ChaCha made this test seven times slower.
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::XorShift));
    runner
        .run(&strategy, |value| check(value).map_err(TestCaseError::fail))
        .map_err(|e| match e {
            TestError::Fail(reason, _) => reason.to_string(),
            TestError::Abort(reason) => format!("generation aborted: {reason}"),
        })
}

/// Adds the property names `schema` mentions to `out`: the names worth
/// trying in generated objects.
pub fn names_in(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for key in [
                "properties",
                "dependentRequired",
                "dependentSchemas",
                "dependencies",
            ] {
                if let Some(Value::Object(props)) = map.get(key) {
                    out.extend(props.keys().cloned());
                }
            }
            map.values().for_each(|v| names_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| names_in(v, out)),
        _ => {}
    }
}

/// Strings of `ALPHABET` with a length in `min..=max`, drawn as a length
/// and a seed rather than as a vector of characters: a string of hundreds
/// of characters is one value to generate and drop, not hundreds (those
/// were most of a contract's load time). It still shrinks, to the shortest
/// failing length and towards seed 0, whose string is all `a`s.
fn text(min: usize, max: usize) -> BoxedStrategy<String> {
    (min..=max.max(min), any::<u64>())
        .prop_map(|(len, seed)| {
            let alphabet = ALPHABET.as_bytes();
            // xorshift64: seed 0 stays 0, the first letter throughout.
            let mut state = seed;
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(alphabet[(state % alphabet.len() as u64) as usize])
                })
                .collect()
        })
        .boxed()
}

/// Property names: mostly the schemas' own (`names`), sometimes others.
fn property_names(names: Vec<String>) -> BoxedStrategy<String> {
    let others = select(OTHER_NAMES.map(str::to_owned).to_vec());
    if names.is_empty() {
        others.boxed()
    } else {
        prop_oneof![4 => select(names), 1 => others].boxed()
    }
}

/// Any JSON value, small and shallow, with objects keyed by `names`.
fn any_json(names: BoxedStrategy<String>) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-50i64..150).prop_map(Value::from),
        (-500i32..1500).prop_map(|n| json!(f64::from(n) / 8.0)),
        text(0, 12).prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 16, 3, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((names.clone(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Builds instance strategies from one JSON Schema: the schema's own shape
/// most of the time, mixed with arbitrary values so that what the schema
/// leaves open is tried too. Only local `$ref`s (`#…`) are followed.
pub struct JsonInstances<'a> {
    root: &'a Value,
    names: BoxedStrategy<String>,
    any: BoxedStrategy<Value>,
}

impl<'a> JsonInstances<'a> {
    /// Strategies for `root`, objects keyed mostly by `names`.
    pub fn new(root: &'a Value, names: Vec<String>) -> Self {
        let names = property_names(names);
        let any = any_json(names.clone());
        Self { root, names, any }
    }

    /// Payloads of the whole schema.
    pub fn payloads(&self) -> BoxedStrategy<Value> {
        self.of(self.root, 0)
    }

    fn of(&self, schema: &'a Value, depth: u32) -> BoxedStrategy<Value> {
        match schema.as_object() {
            Some(map) if depth <= JSON_DEPTH => {
                prop_oneof![92 => self.shaped(map, depth), 8 => self.any.clone()].boxed()
            }
            _ => self.any.clone(),
        }
    }

    fn shaped(&self, map: &'a Map<String, Value>, depth: u32) -> BoxedStrategy<Value> {
        let target = match map.get("$ref") {
            Some(Value::String(reference)) => reference
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer)),
            _ => None,
        };
        if let Some(target) = target {
            return self.of(target, depth + 1);
        }
        if let Some(value) = map.get("const") {
            return Just(value.clone()).boxed();
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            if !values.is_empty() {
                return select(values.clone()).boxed();
            }
        }
        // Each combinator's branches are tried first, in this order, then the types.
        let mut strategy = self.typed(map, depth);
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = map.get(key) {
                if !branches.is_empty() {
                    let branch = Union::new(branches.iter().map(|b| self.of(b, depth + 1)));
                    strategy = prop_oneof![7 => branch, 3 => strategy].boxed();
                }
            }
        }
        strategy
    }

    fn typed(&self, map: &'a Map<String, Value>, depth: u32) -> BoxedStrategy<Value> {
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => ALL_TYPES.to_vec(),
        };
        if types.is_empty() {
            return self.any.clone();
        }
        Union::new(types.into_iter().map(|t| match t {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
            "integer" => number(map).prop_map(|n| json!(n.round())).boxed(),
            "number" => number(map).prop_map(|n| json!(n)).boxed(),
            "string" => {
                let min = map.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
                let max = map
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .map_or(min + 12, |m| m as usize);
                text(min, max).prop_map(Value::String).boxed()
            }
            "array" => self.array(map, depth),
            "object" => self.object(map, depth),
            _ => self.any.clone(),
        }))
        .boxed()
    }

    /// Prefix items from their own schemas, then up to two more from the
    /// rest schema (`items` or, beside a draft 7 tuple, `additionalItems`).
    fn array(&self, map: &'a Map<String, Value>, depth: u32) -> BoxedStrategy<Value> {
        let prefix: Vec<BoxedStrategy<Value>> = match (map.get("prefixItems"), map.get("items")) {
            (Some(Value::Array(p)), _) | (_, Some(Value::Array(p))) => {
                p.iter().map(|s| self.of(s, depth + 1)).collect()
            }
            _ => Vec::new(),
        };
        let rest = match map.get("items") {
            Some(Value::Array(_)) => map.get("additionalItems"),
            other => other,
        };
        let rest = rest.map_or_else(|| self.any.clone(), |s| self.of(s, depth + 1));
        let longest = prefix.len() + 2;
        (prefix, vec(rest, 2), 0..=longest)
            .prop_map(|(mut items, more, len)| {
                items.extend(more);
                items.truncate(len);
                Value::Array(items)
            })
            .boxed()
    }

    /// Required properties always, others often, plus up to two more names
    /// with `additionalProperties` values.
    fn object(&self, map: &'a Map<String, Value>, depth: u32) -> BoxedStrategy<Value> {
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map_or(vec![], |r| r.iter().filter_map(Value::as_str).collect());
        let declared: Vec<BoxedStrategy<Option<(String, Value)>>> = map
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, schema)| {
                let owned = name.clone();
                let entry = self
                    .of(schema, depth + 1)
                    .prop_map(move |v| (owned.clone(), v));
                if required.contains(&name.as_str()) {
                    entry.prop_map(Some).boxed()
                } else {
                    proptest::option::weighted(0.6, entry).boxed()
                }
            })
            .collect();
        let extra = match map.get("additionalProperties") {
            Some(schema @ Value::Object(_)) => {
                prop_oneof![7 => self.of(schema, depth + 1), 3 => self.any.clone()].boxed()
            }
            _ => self.any.clone(),
        };
        (declared, vec((self.names.clone(), extra), 0..3))
            .prop_map(|(declared, extras)| {
                let mut out: Map<String, Value> = declared.into_iter().flatten().collect();
                for (name, value) in extras {
                    out.entry(name).or_insert(value);
                }
                Value::Object(out)
            })
            .boxed()
    }
}

/// Numbers near zero, on the schema's `multipleOf` grid when it has one,
/// else sometimes fractional, clamped to `minimum`/`maximum`.
fn number(map: &Map<String, Value>) -> BoxedStrategy<f64> {
    let step = map.get("multipleOf").and_then(Value::as_f64);
    let low = map
        .get("minimum")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MIN);
    let high = map
        .get("maximum")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MAX);
    (-20i32..40, proptest::bool::weighted(0.3))
        .prop_map(move |(base, fractional)| {
            let base = f64::from(base);
            let value = match step {
                Some(step) => (base / 2.0).round() * step,
                None if fractional => base + 0.5,
                None => base,
            };
            value.clamp(low, high)
        })
        .boxed()
}

/// Values of an Avro schema paired with their natural JSON form; `None`
/// when the schema holds a type the generator does not make (logical
/// types) or its names do not resolve.
pub fn avro_payloads(schema: &apache_avro::Schema) -> Option<BoxedStrategy<(Avro, Value)>> {
    let resolved = apache_avro::schema::ResolvedSchema::try_from(schema).ok()?;
    avro_values(schema, resolved.get_names(), 0)
}

fn avro_values(
    schema: &apache_avro::Schema,
    names: &HashMap<apache_avro::schema::Name, &apache_avro::Schema>,
    depth: u32,
) -> Option<BoxedStrategy<(Avro, Value)>> {
    use apache_avro::Schema as S;
    let lowercase = |len| vec(b'a'..=b'z', len);
    Some(match schema {
        S::Ref { name } if depth < AVRO_REF_DEPTH => {
            return avro_values(names.get(name)?, names, depth + 1)
        }
        S::Null => Just((Avro::Null, Value::Null)).boxed(),
        S::Boolean => any::<bool>()
            .prop_map(|b| (Avro::Boolean(b), json!(b)))
            .boxed(),
        S::Int => any::<i32>().prop_map(|n| (Avro::Int(n), json!(n))).boxed(),
        S::Long => any::<i64>().prop_map(|n| (Avro::Long(n), json!(n))).boxed(),
        S::Float => (0u16..10_000)
            .prop_map(|n| {
                let f = f32::from(n) / 8.0;
                (Avro::Float(f), json!(f))
            })
            .boxed(),
        S::Double => (0u16..10_000)
            .prop_map(|n| {
                let f = f64::from(n) / 8.0;
                (Avro::Double(f), json!(f))
            })
            .boxed(),
        S::String => lowercase(0..6)
            .prop_map(|b| {
                let s = String::from_utf8_lossy(&b).into_owned();
                (Avro::String(s.clone()), json!(s))
            })
            .boxed(),
        S::Bytes => lowercase(0..6)
            .prop_map(|b| (Avro::Bytes(b.clone()), json!(String::from_utf8_lossy(&b))))
            .boxed(),
        S::Fixed(f) => {
            let size = f.size;
            lowercase(size..size + 1)
                .prop_map(move |b| {
                    let natural = json!(String::from_utf8_lossy(&b));
                    (Avro::Fixed(size, b), natural)
                })
                .boxed()
        }
        S::Enum(e) => {
            let symbols: Vec<(u32, String)> = (0..).zip(e.symbols.iter().cloned()).collect();
            select(symbols)
                .prop_map(|(i, symbol)| (Avro::Enum(i, symbol.clone()), json!(symbol)))
                .boxed()
        }
        S::Array(a) => avro_elements(&a.items, names, depth)
            .prop_map(|items| {
                let (avro, natural): (Vec<_>, Vec<_>) = items.into_iter().unzip();
                (Avro::Array(avro), Value::Array(natural))
            })
            .boxed(),
        S::Map(m) => avro_elements(&m.types, names, depth)
            .prop_map(|values| {
                let keyed = (0..values.len()).map(|k| format!("k{k}")).zip(values);
                let (avro, natural) = named(keyed);
                (Avro::Map(avro.into_iter().collect()), natural)
            })
            .boxed(),
        S::Union(u) => {
            let branches: Vec<BoxedStrategy<(Avro, Value)>> = (0..)
                .zip(u.variants())
                .filter_map(|(i, variant)| {
                    let values = avro_values(variant, names, depth + 1)?;
                    Some(
                        values
                            .prop_map(move |(a, n)| (Avro::Union(i, Box::new(a)), n))
                            .boxed(),
                    )
                })
                .collect();
            if branches.is_empty() {
                return None;
            }
            Union::new(branches).boxed()
        }
        S::Record(r) => {
            let fields: Vec<BoxedStrategy<(Avro, Value)>> = r
                .fields
                .iter()
                .map(|field| avro_values(&field.schema, names, depth + 1))
                .collect::<Option<_>>()?;
            let field_names: Vec<String> = r.fields.iter().map(|f| f.name.clone()).collect();
            fields
                .prop_map(move |values| {
                    let (avro, natural) = named(field_names.iter().cloned().zip(values));
                    (Avro::Record(avro), natural)
                })
                .boxed()
        }
        _ => return None,
    })
}

/// Up to two values of `items`, the elements of an array or map: none past
/// `AVRO_DEPTH` or when `items` has no values the generator makes.
fn avro_elements(
    items: &apache_avro::Schema,
    names: &HashMap<apache_avro::schema::Name, &apache_avro::Schema>,
    depth: u32,
) -> BoxedStrategy<Vec<(Avro, Value)>> {
    match avro_values(items, names, depth + 1) {
        Some(values) if depth < AVRO_DEPTH => vec(values, 0..3).boxed(),
        _ => Just(Vec::new()).boxed(),
    }
}

/// Named values as Avro's `(name, value)` pairs and as a JSON object.
fn named(values: impl Iterator<Item = (String, (Avro, Value))>) -> (Vec<(String, Avro)>, Value) {
    let (avro, natural): (Vec<_>, Map<_, _>) = values
        .map(|(name, (a, n))| ((name.clone(), a), (name, n)))
        .unzip();
    (avro, Value::Object(natural))
}

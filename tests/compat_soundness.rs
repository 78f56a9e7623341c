//! Soundness: a pair the checker calls backward compatible must not reject
//! old data. For every such pair of the rule tables, instances valid under
//! the old schema — the table's own examples and instances generated from
//! both schemas with a seeded generator — are validated against the new
//! schema with the gateway's validator (`Schema::validate`); any rejection
//! fails, naming the pair and the instance.
//!
//! Avro pairs are also checked with apache-avro's binary resolution: data
//! encoded with the writer schema must decode with the reader schema.
//!
//! The one listed exception is Confluent's deliberate leniency: a required
//! property added *with a default* may reject old data lacking it.

mod compat_common;

use std::collections::HashMap;

use apache_avro::types::Value as Avro;
use compat_common::*;
use contractgate::contract::compat::{Change, ChangeKind, Policy, SchemaVersion};
use serde_json::{json, Map, Value};

/// A small deterministic generator (xorshift64*), seeded per case so that
/// a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Property names worth trying: every name either schema mentions.
fn names_in(schema: &Value, out: &mut Vec<String>) {
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

struct Generator<'a> {
    rng: Rng,
    root: &'a Value,
    names: Vec<String>,
}

impl Generator<'_> {
    fn any(&mut self, depth: u32) -> Value {
        match self.rng.below(if depth > 2 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.chance(50)),
            2 => json!(self.rng.below(200) as i64 - 50),
            3 => json!((self.rng.below(2000) as f64 - 500.0) / 8.0),
            4 => Value::String(self.string(0, 12)),
            5 => Value::Array(
                (0..self.rng.below(4))
                    .map(|_| self.any(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.rng.below(4) {
                    let name = self.name();
                    map.insert(name, self.any(depth + 1));
                }
                Value::Object(map)
            }
        }
    }

    fn name(&mut self) -> String {
        if !self.names.is_empty() && self.rng.chance(80) {
            self.names[self.rng.below(self.names.len())].clone()
        } else {
            ["x_a", "zz", "abc", "n"][self.rng.below(4)].to_owned()
        }
    }

    fn string(&mut self, min: usize, max: usize) -> String {
        let alphabet: Vec<char> = "abcxyz@.1 B".chars().collect();
        let len = min + self.rng.below(max.saturating_sub(min) + 1);
        (0..len)
            .map(|_| alphabet[self.rng.below(alphabet.len())])
            .collect()
    }

    fn from(&mut self, schema: &Value, depth: u32) -> Value {
        let Some(map) = schema.as_object() else {
            return self.any(depth);
        };
        if depth > 6 || self.rng.chance(8) {
            return self.any(depth);
        }
        if let Some(Value::String(reference)) = map.get("$ref") {
            if let Some(target) = reference
                .strip_prefix('#')
                .and_then(|p| self.root.pointer(p))
            {
                let target = target.clone();
                return self.from(&target, depth + 1);
            }
        }
        if let Some(value) = map.get("const") {
            return value.clone();
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            if !values.is_empty() {
                return values[self.rng.below(values.len())].clone();
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(Value::Array(branches)) = map.get(key) {
                if !branches.is_empty() && self.rng.chance(70) {
                    let branch = branches[self.rng.below(branches.len())].clone();
                    return self.from(&branch, depth + 1);
                }
            }
        }
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![
                "null", "boolean", "object", "array", "string", "integer", "number",
            ],
        };
        match types[self.rng.below(types.len())] {
            "null" => Value::Null,
            "boolean" => Value::Bool(self.rng.chance(50)),
            "integer" => json!(self.number(map).round()),
            "number" => json!(self.number(map)),
            "string" => {
                let min = map.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
                let max = map
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .map_or(min + 12, |m| m as usize);
                Value::String(self.string(min, max.max(min)))
            }
            "array" => self.array(map, depth),
            "object" => self.object(map, depth),
            _ => self.any(depth),
        }
    }

    fn number(&mut self, map: &Map<String, Value>) -> f64 {
        let base = self.rng.below(60) as f64 - 20.0;
        let value = match map.get("multipleOf").and_then(Value::as_f64) {
            Some(step) => (base / 2.0).round() * step,
            None if self.rng.chance(30) => base + 0.5,
            None => base,
        };
        let low = map
            .get("minimum")
            .and_then(Value::as_f64)
            .unwrap_or(f64::MIN);
        let high = map
            .get("maximum")
            .and_then(Value::as_f64)
            .unwrap_or(f64::MAX);
        value.clamp(low, high)
    }

    fn array(&mut self, map: &Map<String, Value>, depth: u32) -> Value {
        let prefix: Vec<Value> = match (map.get("prefixItems"), map.get("items")) {
            (Some(Value::Array(p)), _) | (_, Some(Value::Array(p))) => p.clone(),
            _ => Vec::new(),
        };
        let rest = match map.get("items") {
            Some(Value::Array(_)) => map.get("additionalItems").cloned(),
            other => other.cloned(),
        };
        let len = self.rng.below(prefix.len() + 3);
        (0..len)
            .map(|i| match prefix.get(i).or(rest.as_ref()) {
                Some(schema) => self.from(&schema.clone(), depth + 1),
                None => self.any(depth + 1),
            })
            .collect()
    }

    fn object(&mut self, map: &Map<String, Value>, depth: u32) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map_or(vec![], |r| r.iter().filter_map(Value::as_str).collect());
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, schema) in props {
                if required.contains(&name.as_str()) || self.rng.chance(60) {
                    let value = self.from(&schema.clone(), depth + 1);
                    out.insert(name.clone(), value);
                }
            }
        }
        for _ in 0..self.rng.below(3) {
            let name = self.name();
            let value = match map.get("additionalProperties") {
                Some(schema @ Value::Object(_)) if self.rng.chance(70) => {
                    self.from(&schema.clone(), depth + 1)
                }
                _ => self.any(depth + 1),
            };
            out.entry(name).or_insert(value);
        }
        Value::Object(out)
    }
}

/// Instances for a pair: examples, then generated from both schemas.
fn instances(case: &Value, seed: u64) -> Vec<Value> {
    let mut names = Vec::new();
    names_in(&case["old"], &mut names);
    names_in(&case["new"], &mut names);
    names.sort();
    names.dedup();
    let mut out: Vec<Value> = case["examples"].as_array().cloned().unwrap_or_default();
    for side in ["old", "new"] {
        let mut generator = Generator {
            rng: Rng(seed | 1),
            root: &case[side],
            names: names.clone(),
        };
        for _ in 0..300 {
            out.push(generator.from(&case[side], 0));
        }
    }
    out
}

/// The leniency Confluent's semantics allow on purpose.
fn allows_missing_required(changes: &[Change]) -> bool {
    changes.iter().any(|c| {
        matches!(
            c.kind,
            ChangeKind::REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED
                | ChangeKind::REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
        )
    })
}

#[test]
fn json_schema_pairs_called_compatible_accept_all_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, case) in table("json/cases.json").iter().enumerate() {
        let old = version(dir.path(), &format!("old{i}.json"), &case["old"]);
        let new = version(dir.path(), &format!("new{i}.json"), &case["new"]);
        let changes = backward(&old, &new, Policy::Strict);
        if !compatible(&changes) {
            continue;
        }
        let lenient_required = allows_missing_required(&changes);
        for instance in instances(case, 0x9E37_79B9 + i as u64) {
            if !old.schema().validate(&instance).is_empty() {
                continue;
            }
            checked += 1;
            let rejected: Vec<_> = new
                .schema()
                .validate(&instance)
                .into_iter()
                .filter(|v| !(lenient_required && v.keyword == "required"))
                .collect();
            if !rejected.is_empty() {
                failures.push(format!(
                    "{}: {instance} rejected: {rejected:?}",
                    case["rule"]
                ));
                break;
            }
        }
    }
    assert!(
        checked > 1000,
        "too few old instances were generated: {checked}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A random value of an Avro schema, and its natural JSON form.
fn avro_value(
    schema: &apache_avro::Schema,
    names: &HashMap<apache_avro::schema::Name, &apache_avro::Schema>,
    rng: &mut Rng,
    depth: u32,
) -> Option<(Avro, Value)> {
    use apache_avro::Schema as S;
    Some(match schema {
        S::Ref { name } => return avro_value(names.get(name)?, names, rng, depth + 1),
        S::Null => (Avro::Null, Value::Null),
        S::Boolean => {
            let b = rng.chance(50);
            (Avro::Boolean(b), json!(b))
        }
        S::Int => {
            let n = rng.next() as i32;
            (Avro::Int(n), json!(n))
        }
        S::Long => {
            let n = rng.next() as i64;
            (Avro::Long(n), json!(n))
        }
        S::Float => {
            let f = (rng.below(10_000) as f32) / 8.0;
            (Avro::Float(f), json!(f))
        }
        S::Double => {
            let f = (rng.below(10_000) as f64) / 8.0;
            (Avro::Double(f), json!(f))
        }
        S::String => {
            let s: String = (0..rng.below(6))
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect();
            (Avro::String(s.clone()), json!(s))
        }
        S::Bytes => {
            let b: Vec<u8> = (0..rng.below(6))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect();
            (Avro::Bytes(b.clone()), json!(String::from_utf8_lossy(&b)))
        }
        S::Fixed(f) => {
            let b: Vec<u8> = (0..f.size).map(|_| b'a' + rng.below(26) as u8).collect();
            (
                Avro::Fixed(f.size, b.clone()),
                json!(String::from_utf8_lossy(&b)),
            )
        }
        S::Enum(e) => {
            let i = rng.below(e.symbols.len());
            (
                Avro::Enum(i as u32, e.symbols[i].clone()),
                json!(e.symbols[i]),
            )
        }
        S::Array(a) if depth < 4 => {
            let items: Vec<_> = (0..rng.below(3))
                .filter_map(|_| avro_value(&a.items, names, rng, depth + 1))
                .collect();
            (
                Avro::Array(items.iter().map(|i| i.0.clone()).collect()),
                Value::Array(items.into_iter().map(|i| i.1).collect()),
            )
        }
        S::Map(m) if depth < 4 => {
            let mut avro = HashMap::new();
            let mut natural = Map::new();
            for k in 0..rng.below(3) {
                let (a, n) = avro_value(&m.types, names, rng, depth + 1)?;
                avro.insert(format!("k{k}"), a);
                natural.insert(format!("k{k}"), n);
            }
            (Avro::Map(avro), Value::Object(natural))
        }
        S::Union(u) => {
            let i = rng.below(u.variants().len());
            let (a, n) = avro_value(&u.variants()[i], names, rng, depth + 1)?;
            (Avro::Union(i as u32, Box::new(a)), n)
        }
        S::Record(r) => {
            let mut fields = Vec::new();
            let mut natural = Map::new();
            for field in &r.fields {
                let (a, n) = avro_value(&field.schema, names, rng, depth + 1)?;
                fields.push((field.name.clone(), a));
                natural.insert(field.name.clone(), n);
            }
            (Avro::Record(fields), Value::Object(natural))
        }
        _ => return None,
    })
}

fn parsed(version: &SchemaVersion) -> &apache_avro::Schema {
    version.schema().avro().expect("an Avro schema")
}

#[test]
fn avro_pairs_called_compatible_resolve_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, case) in table("avro/cases.json").iter().enumerate() {
        let writer = version(dir.path(), &format!("w{i}.avsc"), &case["writer"]);
        let reader = version(dir.path(), &format!("r{i}.avsc"), &case["reader"]);
        for (old, new) in [(&writer, &reader), (&reader, &writer)] {
            let changes = backward(old, new, Policy::Strict);
            if !compatible(&changes) {
                continue;
            }
            // apache-avro resolves record fields by name only: it has no
            // reader aliases, so an alias-renamed field cannot decode there.
            let binary = !changes
                .iter()
                .any(|c| c.kind == ChangeKind::FIELD_RENAMED_WITH_ALIAS);
            let names = apache_avro::schema::ResolvedSchema::try_from(parsed(old))
                .unwrap()
                .get_names()
                .clone();
            let mut rng = Rng(0xA5A5_0000 + i as u64);
            for _ in 0..200 {
                let Some((value, natural)) = avro_value(parsed(old), &names, &mut rng, 0) else {
                    continue;
                };
                checked += 1;
                if !old.schema().validate(&natural).is_empty() {
                    failures.push(format!(
                        "{}: generated {natural} is invalid under the old schema",
                        case["row"]
                    ));
                    break;
                }
                if !binary {
                    continue;
                }
                // What the gateway does with old data of an Avro contract:
                // Avro's schema resolution (skip, default, promote), then
                // the new version's validator on the resolved JSON.
                let bytes = apache_avro::to_avro_datum(parsed(old), value)
                    .expect("the generated value encodes");
                match apache_avro::from_avro_datum(
                    parsed(old),
                    &mut bytes.as_slice(),
                    Some(parsed(new)),
                ) {
                    Err(e) => {
                        failures.push(format!("{}: {natural} does not resolve: {e}", case["row"]));
                        break;
                    }
                    Ok(resolved) => {
                        let resolved = json_of(resolved);
                        let violations = new.schema().validate(&resolved);
                        if !violations.is_empty() {
                            failures.push(format!(
                                "{}: {natural} resolves to {resolved}, rejected by the new schema: {violations:?}",
                                case["row"]
                            ));
                            break;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "too few values were generated: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An Avro value in the gateway's JSON mapping (bytes and fixed as strings
/// of code points 0–255, unions unwrapped).
fn json_of(value: Avro) -> Value {
    let bytes = |b: Vec<u8>| Value::String(b.into_iter().map(char::from).collect());
    match value {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Value::from(i),
        Avro::Long(l)
        | Avro::TimeMicros(l)
        | Avro::TimestampMillis(l)
        | Avro::TimestampMicros(l) => Value::from(l),
        Avro::Float(f) => Value::from(f64::from(f)),
        Avro::Double(d) => Value::from(d),
        Avro::Bytes(b) | Avro::Fixed(_, b) => bytes(b),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Union(_, inner) => json_of(*inner),
        Avro::Array(items) => Value::Array(items.into_iter().map(json_of).collect()),
        Avro::Map(items) => {
            Value::Object(items.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
        Avro::Record(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
        other => panic!("the generator makes no {other:?}"),
    }
}

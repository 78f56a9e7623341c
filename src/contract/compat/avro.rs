//! The Avro checker: Avro's schema-resolution rules (specification,
//! "Schema Resolution") applied to apache-avro's parsed schemas, reporting
//! every incompatibility with its location (`/fields/3/type/symbols`).
//!
//! apache-avro's `SchemaCompatibility::can_read` stops at the first problem
//! and gives no location, ignores aliases of named types (a record renamed
//! with an alias is a mismatch there) and ignores enum defaults; its binary
//! resolution also ignores field aliases. This walker does those, and uses
//! apache-avro for parsing and named-type lookup.

use std::collections::{HashMap, HashSet};

use apache_avro::schema::{
    Alias, EnumSchema, FixedSchema, Name, RecordSchema, ResolvedSchema, Schema, SchemaKind,
};

use super::{ChangeKind, Found, Locate, Policy};
use ChangeKind::*;

/// Every change a reader schema meets reading a writer schema's data.
pub(super) fn compare(writer: &Schema, reader: &Schema, locate: Locate) -> Vec<Found> {
    let mut walker = Walker {
        writer_names: names(writer),
        reader_names: names(reader),
        locate,
        found: Vec::new(),
        active: HashSet::new(),
    };
    walker.check(writer, "", reader, "");
    walker.found
}

fn names(schema: &Schema) -> HashMap<Name, &Schema> {
    ResolvedSchema::try_from(schema)
        .map(|r| r.get_names().clone())
        .unwrap_or_default()
}

struct Walker<'s> {
    writer_names: HashMap<Name, &'s Schema>,
    reader_names: HashMap<Name, &'s Schema>,
    locate: Locate,
    found: Vec<Found>,
    /// Named pairs being compared, to stop at recursive types.
    active: HashSet<(Name, Name)>,
}

/// The type a schema is read as: logical types are their underlying type.
fn base(schema: &Schema) -> &Schema {
    match schema {
        Schema::Date | Schema::TimeMillis => &Schema::Int,
        Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => &Schema::Long,
        Schema::Uuid => &Schema::String,
        Schema::BigDecimal => &Schema::Bytes,
        Schema::Decimal(decimal) => base(&decimal.inner),
        other => other,
    }
}

fn promotes(writer: &Schema, reader: &Schema) -> bool {
    use Schema::*;
    matches!(
        (writer, reader),
        (Int, Long | Float | Double)
            | (Long, Float | Double)
            | (Float, Double)
            | (String, Bytes)
            | (Bytes, String)
    )
}

fn kind_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => format!("record {}", r.name.name),
        Schema::Enum(e) => format!("enum {}", e.name.name),
        Schema::Fixed(f) => format!("fixed {}", f.name.name),
        other => format!("{:?}", SchemaKind::from(other)).to_lowercase(),
    }
}

impl<'s> Walker<'s> {
    fn report(&mut self, kind: ChangeKind, writer_at: &str, reader_at: &str, detail: String) {
        let location = match self.locate {
            Locate::Writer => writer_at,
            Locate::Reader => reader_at,
        };
        self.found.push(Found {
            kind,
            location: location.to_owned(),
            detail,
        });
    }

    fn deref(&self, schema: &'s Schema, reader: bool) -> &'s Schema {
        let names = if reader {
            &self.reader_names
        } else {
            &self.writer_names
        };
        let mut current = schema;
        while let Schema::Ref { name } = current {
            match names.get(name) {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }

    /// Runs `check` into a scratch list and says whether it is compatible.
    fn trial(
        &mut self,
        w: &'s Schema,
        w_at: &str,
        r: &'s Schema,
        r_at: &str,
    ) -> (bool, Vec<Found>) {
        let saved = std::mem::take(&mut self.found);
        self.check(w, w_at, r, r_at);
        let found = std::mem::replace(&mut self.found, saved);
        let ok = found.iter().all(|f| f.kind.is_compatible(Policy::Strict));
        (ok, found)
    }

    fn check(&mut self, w: &'s Schema, w_at: &str, r: &'s Schema, r_at: &str) {
        let (w, r) = (self.deref(w, false), self.deref(r, true));
        match (w, r) {
            (Schema::Union(wu), Schema::Union(ru)) => {
                self.union_to_union(wu.variants(), w_at, ru.variants(), r_at)
            }
            (Schema::Union(wu), _) => {
                for (k, branch) in wu.variants().iter().enumerate() {
                    let at = format!("{w_at}/{k}");
                    let (ok, found) = self.trial(branch, &at, r, r_at);
                    if ok {
                        self.found.extend(found);
                    } else {
                        let detail = format!(
                            "writer branch {} cannot be read as {}",
                            kind_name(self.deref(branch, false)),
                            kind_name(r)
                        );
                        self.report(UNION_BRANCH_MISSING, &at, r_at, detail);
                    }
                }
            }
            (_, Schema::Union(ru)) => match self.pick_branch(w, w_at, ru.variants(), r_at) {
                Some((_, found)) => {
                    self.found.extend(found);
                }
                None => {
                    let detail = format!("no branch of the reader union reads {}", kind_name(w));
                    self.report(AVRO_TYPE_MISMATCH, w_at, r_at, detail);
                }
            },
            _ => self.non_union(w, w_at, r, r_at),
        }
    }

    /// The first reader branch that reads `w` exactly (same type or name),
    /// else the first that reads it at all, as the specification orders it.
    fn pick_branch(
        &mut self,
        w: &'s Schema,
        w_at: &str,
        branches: &'s [Schema],
        r_at: &str,
    ) -> Option<(usize, Vec<Found>)> {
        let mut fallback = None;
        for (j, branch) in branches.iter().enumerate() {
            let at = format!("{r_at}/{j}");
            let (ok, found) = self.trial(w, w_at, branch, &at);
            if ok {
                let exact = found.iter().all(|f| f.kind != AVRO_TYPE_PROMOTED)
                    && SchemaKind::from(base(self.deref(w, false)))
                        == SchemaKind::from(base(self.deref(branch, true)));
                if exact {
                    return Some((j, found));
                }
                fallback = fallback.or(Some((j, found)));
            }
        }
        fallback
    }

    fn union_to_union(
        &mut self,
        writer: &'s [Schema],
        w_at: &str,
        reader: &'s [Schema],
        r_at: &str,
    ) {
        let mut used = HashSet::new();
        for (k, branch) in writer.iter().enumerate() {
            let at = format!("{w_at}/{k}");
            match self.pick_branch(branch, &at, reader, r_at) {
                Some((j, found)) => {
                    used.insert(j);
                    self.found.extend(found);
                }
                None => {
                    let detail = format!(
                        "writer branch {} has no reader branch",
                        kind_name(self.deref(branch, false))
                    );
                    self.report(UNION_BRANCH_MISSING, &at, r_at, detail);
                }
            }
        }
        for (j, branch) in reader.iter().enumerate().filter(|(j, _)| !used.contains(j)) {
            let detail = format!("reader branch {}", kind_name(self.deref(branch, true)));
            self.report(UNION_BRANCH_ADDED, w_at, &format!("{r_at}/{j}"), detail);
        }
    }

    fn non_union(&mut self, w: &'s Schema, w_at: &str, r: &'s Schema, r_at: &str) {
        match (base(w), base(r)) {
            (Schema::Record(wr), Schema::Record(rr)) => self.records(wr, w_at, rr, r_at),
            (Schema::Enum(we), Schema::Enum(re)) => self.enums(we, w_at, re, r_at),
            (Schema::Fixed(wf), Schema::Fixed(rf)) => self.fixed(wf, w_at, rf, r_at),
            (Schema::Array(wa), Schema::Array(ra)) => self.check(
                &wa.items,
                &format!("{w_at}/items"),
                &ra.items,
                &format!("{r_at}/items"),
            ),
            (Schema::Map(wm), Schema::Map(rm)) => self.check(
                &wm.types,
                &format!("{w_at}/values"),
                &rm.types,
                &format!("{r_at}/values"),
            ),
            (Schema::Duration, Schema::Duration) => {}
            (wb, rb) if SchemaKind::from(wb) == SchemaKind::from(rb) => {}
            (wb, rb) if promotes(wb, rb) => self.report(
                AVRO_TYPE_PROMOTED,
                w_at,
                r_at,
                format!("{} → {}", kind_name(wb), kind_name(rb)),
            ),
            (wb, rb) => {
                let detail = format!("writer {}, reader {}", kind_name(wb), kind_name(rb));
                self.report(AVRO_TYPE_MISMATCH, w_at, r_at, detail)
            }
        }
    }

    /// Named types match on the unqualified name or a reader alias.
    /// Returns false on a mismatch (already reported).
    fn names_match(
        &mut self,
        w: &Name,
        w_at: &str,
        r: &Name,
        aliases: &Option<Vec<Alias>>,
        r_at: &str,
    ) -> bool {
        let (w_at, r_at) = (format!("{w_at}/name"), format!("{r_at}/name"));
        if w.name == r.name {
            if w.namespace != r.namespace {
                let detail = format!("{} → {}", w.fullname(None), r.fullname(None));
                self.report(AVRO_NAMESPACE_CHANGED, &w_at, &r_at, detail);
            }
            return true;
        }
        if aliases.iter().flatten().any(|a| a.name() == w.name) {
            self.report(
                AVRO_NAME_MATCHED_BY_ALIAS,
                &w_at,
                &r_at,
                format!("{} → {}", w.name, r.name),
            );
            return true;
        }
        self.report(
            AVRO_NAME_MISMATCH,
            &w_at,
            &r_at,
            format!("{} → {}", w.name, r.name),
        );
        false
    }

    fn records(&mut self, w: &'s RecordSchema, w_at: &str, r: &'s RecordSchema, r_at: &str) {
        if !self.names_match(&w.name, w_at, &r.name, &r.aliases, r_at) {
            return;
        }
        let key = (w.name.clone(), r.name.clone());
        if !self.active.insert(key.clone()) {
            return;
        }
        let mut read = HashSet::new();
        for (ri, field) in r.fields.iter().enumerate() {
            let r_field_at = format!("{r_at}/fields/{ri}");
            let by_name = w.fields.iter().position(|f| f.name == field.name);
            let by_alias = || {
                w.fields
                    .iter()
                    .position(|f| field.aliases.iter().flatten().any(|a| *a == f.name))
            };
            match by_name.or_else(by_alias) {
                Some(wi) => {
                    read.insert(wi);
                    let w_field = &w.fields[wi];
                    let w_field_at = format!("{w_at}/fields/{wi}");
                    if w_field.name != field.name {
                        let detail = format!("`{}` → `{}`", w_field.name, field.name);
                        self.report(
                            FIELD_RENAMED_WITH_ALIAS,
                            &format!("{w_field_at}/name"),
                            &format!("{r_field_at}/name"),
                            detail,
                        );
                    }
                    self.check(
                        &w_field.schema,
                        &format!("{w_field_at}/type"),
                        &field.schema,
                        &format!("{r_field_at}/type"),
                    );
                }
                None => {
                    let kind = if field.default.is_some() {
                        FIELD_ADDED_WITH_DEFAULT
                    } else {
                        FIELD_ADDED_WITHOUT_DEFAULT
                    };
                    self.report(
                        kind,
                        &format!("{w_at}/fields"),
                        &r_field_at,
                        format!("field `{}`", field.name),
                    );
                }
            }
        }
        for (wi, field) in w
            .fields
            .iter()
            .enumerate()
            .filter(|(wi, _)| !read.contains(wi))
        {
            self.report(
                FIELD_REMOVED,
                &format!("{w_at}/fields/{wi}"),
                &format!("{r_at}/fields"),
                format!("field `{}`", field.name),
            );
        }
        self.active.remove(&key);
    }

    fn enums(&mut self, w: &EnumSchema, w_at: &str, r: &EnumSchema, r_at: &str) {
        if !self.names_match(&w.name, w_at, &r.name, &r.aliases, r_at) {
            return;
        }
        let (w_at, r_at) = (format!("{w_at}/symbols"), format!("{r_at}/symbols"));
        let missing: Vec<&str> = w
            .symbols
            .iter()
            .filter(|s| !r.symbols.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let kind = if r.default.is_some() {
                ENUM_SYMBOL_REMOVED_WITH_DEFAULT
            } else {
                ENUM_SYMBOL_REMOVED
            };
            self.report(
                kind,
                &w_at,
                &r_at,
                format!("{} missing from the reader", missing.join(", ")),
            );
        }
        let added: Vec<&str> = r
            .symbols
            .iter()
            .filter(|s| !w.symbols.contains(s))
            .map(String::as_str)
            .collect();
        if !added.is_empty() {
            self.report(ENUM_SYMBOL_ADDED, &w_at, &r_at, added.join(", "));
        }
    }

    fn fixed(&mut self, w: &FixedSchema, w_at: &str, r: &FixedSchema, r_at: &str) {
        if !self.names_match(&w.name, w_at, &r.name, &r.aliases, r_at) {
            return;
        }
        if w.size != r.size {
            self.report(
                AVRO_FIXED_SIZE_CHANGED,
                &format!("{w_at}/size"),
                &format!("{r_at}/size"),
                format!("{} → {}", w.size, r.size),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::schema_compatibility::SchemaCompatibility;

    fn parse(text: &str) -> Schema {
        Schema::parse_str(text).unwrap()
    }

    fn kinds(writer: &Schema, reader: &Schema) -> Vec<ChangeKind> {
        compare(writer, reader, Locate::Reader)
            .iter()
            .map(|f| f.kind)
            .collect()
    }

    /// The cases where apache-avro's `can_read` is wrong or silent, which
    /// is why this walker exists.
    #[test]
    fn covers_what_apache_avro_lacks() {
        let writer = parse(
            r#"{"type": "record", "name": "R", "namespace": "a", "fields": [{"name": "mail", "type": "string"}]}"#,
        );
        let renamed = parse(
            r#"{"type": "record", "name": "S", "namespace": "a", "aliases": ["R"], "fields": [{"name": "mail", "type": "string"}]}"#,
        );
        assert!(SchemaCompatibility::can_read(&writer, &renamed).is_err());
        assert_eq!(kinds(&writer, &renamed), [AVRO_NAME_MATCHED_BY_ALIAS]);

        let moved = parse(
            r#"{"type": "record", "name": "R", "namespace": "b", "fields": [{"name": "mail", "type": "string"}]}"#,
        );
        assert_eq!(kinds(&writer, &moved), [AVRO_NAMESPACE_CHANGED]);

        let old = parse(r#"{"type": "enum", "name": "E", "symbols": ["A", "B"]}"#);
        let new = parse(r#"{"type": "enum", "name": "E", "symbols": ["A", "X"], "default": "X"}"#);
        assert!(SchemaCompatibility::can_read(&old, &new).is_err());
        assert_eq!(
            kinds(&old, &new),
            [ENUM_SYMBOL_REMOVED_WITH_DEFAULT, ENUM_SYMBOL_ADDED]
        );
    }

    /// `(kind, location)` of every change reading `writer`'s data with
    /// `reader`, located in the reader.
    fn found(writer: &str, reader: &str) -> Vec<(ChangeKind, String)> {
        compare(&parse(writer), &parse(reader), Locate::Reader)
            .into_iter()
            .map(|f| (f.kind, f.location))
            .collect()
    }

    fn one(kind: ChangeKind, location: &str) -> Vec<(ChangeKind, String)> {
        vec![(kind, location.to_owned())]
    }

    fn record(name: &str, extra: &str, fields: &str) -> String {
        format!(r#"{{"type": "record", "name": "{name}"{extra}, "fields": [{fields}]}}"#)
    }

    const MAIL: &str = r#"{"name": "mail", "type": "string"}"#;

    #[test]
    fn named_types_match_on_the_unqualified_name_or_a_reader_alias() {
        let w = record("R", r#", "namespace": "a""#, MAIL);
        assert_eq!(
            found(&w, &record("S", "", MAIL)),
            one(AVRO_NAME_MISMATCH, "/name")
        );
        assert_eq!(
            found(&w, &record("S", r#", "aliases": ["R"]"#, MAIL)),
            one(AVRO_NAME_MATCHED_BY_ALIAS, "/name")
        );
        assert_eq!(
            found(&w, &record("R", r#", "namespace": "b""#, MAIL)),
            one(AVRO_NAMESPACE_CHANGED, "/name")
        );
        // A name mismatch stops there: the fields are not compared.
        let other = record("S", "", r#"{"name": "n", "type": "int"}"#);
        assert_eq!(found(&w, &other), one(AVRO_NAME_MISMATCH, "/name"));
    }

    #[test]
    fn fields_match_by_name_or_reader_alias_and_are_located() {
        let w = record("R", "", MAIL);
        let renamed = record(
            "R",
            "",
            r#"{"name": "email", "aliases": ["mail"], "type": "string"}"#,
        );
        assert_eq!(
            found(&w, &renamed),
            one(FIELD_RENAMED_WITH_ALIAS, "/fields/0/name")
        );
        let with = record(
            "R",
            "",
            &format!(r#"{MAIL}, {{"name": "n", "type": "int", "default": 0}}"#),
        );
        let without = record(
            "R",
            "",
            &format!(r#"{MAIL}, {{"name": "n", "type": "int"}}"#),
        );
        assert_eq!(found(&w, &with), one(FIELD_ADDED_WITH_DEFAULT, "/fields/1"));
        assert_eq!(
            found(&w, &without),
            one(FIELD_ADDED_WITHOUT_DEFAULT, "/fields/1")
        );
        assert_eq!(found(&with, &w), one(FIELD_REMOVED, "/fields"));
        // Forward locates in the writer, the new version there.
        let forward: Vec<_> = compare(&parse(&with), &parse(&w), Locate::Writer)
            .into_iter()
            .map(|f| (f.kind, f.location))
            .collect();
        assert_eq!(forward, one(FIELD_REMOVED, "/fields/1"));
        let promoted = record("R", "", r#"{"name": "mail", "type": "bytes"}"#);
        assert_eq!(
            found(&w, &promoted),
            one(AVRO_TYPE_PROMOTED, "/fields/0/type")
        );
    }

    #[test]
    fn a_reader_union_reads_with_the_exact_branch_before_a_promoting_one() {
        assert!(found(r#""int""#, r#"["long", "int"]"#).is_empty());
        assert_eq!(
            found(r#""int""#, r#"["null", "long"]"#),
            one(AVRO_TYPE_PROMOTED, "/1")
        );
        assert_eq!(
            found(r#""int""#, r#"["null", "string"]"#),
            one(AVRO_TYPE_MISMATCH, "")
        );
    }

    #[test]
    fn union_to_union_pairs_every_writer_branch() {
        assert_eq!(
            found(r#"["int", "null"]"#, r#"["null", "int", "string"]"#),
            one(UNION_BRANCH_ADDED, "/2")
        );
        assert_eq!(
            found(r#"["int", "string"]"#, r#"["int"]"#),
            one(UNION_BRANCH_MISSING, "")
        );
        // Located in the writer, the missing branch is named.
        let forward: Vec<_> = compare(
            &parse(r#"["int", "string"]"#),
            &parse(r#"["int"]"#),
            Locate::Writer,
        )
        .into_iter()
        .map(|f| (f.kind, f.location))
        .collect();
        assert_eq!(forward, one(UNION_BRANCH_MISSING, "/1"));
    }

    #[test]
    fn a_writer_union_is_read_branch_by_branch_by_a_plain_reader() {
        assert_eq!(
            found(r#"["int", "long"]"#, r#""long""#),
            one(AVRO_TYPE_PROMOTED, "")
        );
        assert_eq!(found(r#"["int", "string"]"#, r#""long""#), {
            let mut v = one(AVRO_TYPE_PROMOTED, "");
            v.push((UNION_BRANCH_MISSING, String::new()));
            v
        });
    }

    #[test]
    fn enums_fixed_and_containers() {
        let e = |symbols: &str, extra: &str| {
            format!(r#"{{"type": "enum", "name": "E", "symbols": {symbols}{extra}}}"#)
        };
        assert_eq!(
            found(&e(r#"["A", "B"]"#, ""), &e(r#"["A"]"#, "")),
            one(ENUM_SYMBOL_REMOVED, "/symbols")
        );
        assert_eq!(
            found(&e(r#"["A"]"#, ""), &e(r#"["A", "B"]"#, "")),
            one(ENUM_SYMBOL_ADDED, "/symbols")
        );
        let f = |size: u32| format!(r#"{{"type": "fixed", "name": "F", "size": {size}}}"#);
        assert_eq!(found(&f(4), &f(8)), one(AVRO_FIXED_SIZE_CHANGED, "/size"));
        let array = |items: &str| format!(r#"{{"type": "array", "items": "{items}"}}"#);
        assert_eq!(
            found(&array("long"), &array("int")),
            one(AVRO_TYPE_MISMATCH, "/items")
        );
        let map = |values: &str| format!(r#"{{"type": "map", "values": "{values}"}}"#);
        assert_eq!(
            found(&map("int"), &map("double")),
            one(AVRO_TYPE_PROMOTED, "/values")
        );
    }

    #[test]
    fn logical_types_are_read_as_their_underlying_type() {
        let date = r#"{"type": "int", "logicalType": "date"}"#;
        assert!(found(date, r#""int""#).is_empty());
        assert_eq!(found(date, r#""long""#), one(AVRO_TYPE_PROMOTED, ""));
        assert!(
            promotes(&Schema::Int, &Schema::Double) && !promotes(&Schema::Double, &Schema::Int)
        );
    }

    #[test]
    fn recursive_records_terminate() {
        let list = parse(
            r#"{"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}"#,
        );
        assert!(kinds(&list, &list).is_empty());
    }
}

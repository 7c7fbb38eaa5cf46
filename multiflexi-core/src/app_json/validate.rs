//! `validate`: every breach of the application schema's rules (MultiFlexi App Definition 3.4.0,
//! draft-07), each with its JSON path. The rules are written out here as code.
//!
//! As with a draft-07 validator's defaults, `format` (`uri`, `uuid`) is an annotation and is not
//! checked. A repeated key is read as its last occurrence, like PHP and Python do; the importer
//! reports repeated keys as warnings.

use super::report::Violation;
use super::tree::{self, Node, child};
use super::vocab::{DATA_FORMATS, FIELD_CATEGORIES, LANGUAGES, OPERATIONS, SEVERITIES};
use crate::model::EnvFieldType;

/// Checks an application definition against the schema's rules and returns every violation,
/// in document order (missing required keys of an object first). Empty means valid.
///
/// Bytes that are not JSON give a single violation at the document (`""`) whose message has
/// the line and column.
///
/// ```
/// use multiflexi_core::app_json::validate;
/// let v = validate(br#"{"name": "x", "executable": "x", "environment": {"A": {"type": "int"}}}"#);
/// let paths: Vec<_> = v.iter().map(|v| v.path.as_str()).collect();
/// assert_eq!(paths, ["/$schema", "/description", "/environment/A/type"]);
/// ```
pub fn validate(bytes: &[u8]) -> Vec<Violation> {
    let root = match tree::parse(bytes) {
        Ok((root, _)) => root,
        Err(e) => {
            let message = match tree::conflict_marker(bytes) {
                Some((line, marker)) => {
                    super::ImportError::MergeConflict { line, marker }.to_string()
                }
                None => format!(
                    "not valid JSON: {} at line {}, column {}",
                    e.message, e.line, e.column
                ),
            };
            return vec![Violation {
                path: String::new(),
                message,
            }];
        }
    };
    let mut c = Checker::default();
    c.document(&root);
    c.out
}

/// Object keys written more than once with different values: every occurrence but the last is
/// lost (MultiFlexi's PHP and Python read the last one too). Repeats with equal values lose
/// nothing and are not listed; bytes that are not JSON give nothing (see [`validate`]).
///
/// ```
/// use multiflexi_core::app_json::lost_duplicates;
/// let d = lost_duplicates(br#"{"exitCodes": {"0": "ok", "0": "fine"}, "a": 1, "a": 1}"#);
/// assert_eq!(d.len(), 1);
/// assert_eq!(d[0].path, "/exitCodes/0");
/// ```
pub fn lost_duplicates(bytes: &[u8]) -> Vec<Violation> {
    let Ok((_, duplicates)) = tree::parse(bytes) else {
        return Vec::new();
    };
    duplicates
        .into_iter()
        .filter(|d| d.lost)
        .map(|d| Violation {
            path: d.path,
            message: format!(
                "key {:?} appears {} times with different values; only the last is read, the \
                 others are lost",
                d.key, d.count
            ),
        })
        .collect()
}

/// JSON types as the schema names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    String,
    Boolean,
    Object,
    Array,
    Integer,
}

impl Ty {
    fn matches(self, node: &Node) -> bool {
        match (self, node) {
            (Ty::String, Node::String(_))
            | (Ty::Boolean, Node::Bool(_))
            | (Ty::Object, Node::Object(_))
            | (Ty::Array, Node::Array(_)) => true,
            (Ty::Integer, Node::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        }
    }

    fn with_article(self) -> &'static str {
        match self {
            Ty::String => "a string",
            Ty::Boolean => "a boolean",
            Ty::Object => "an object",
            Ty::Array => "an array",
            Ty::Integer => "an integer",
        }
    }
}

#[derive(Debug, Default)]
struct Checker {
    out: Vec<Violation>,
}

impl Checker {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(Violation {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Whether `node` has type `ty`; reports it when not.
    fn typed(&mut self, node: &Node, path: &str, ty: Ty) -> bool {
        let ok = ty.matches(node);
        if !ok {
            self.fail(
                path,
                format!("must be {}, found {}", ty.with_article(), node.type_name()),
            );
        }
        ok
    }

    fn string<'a>(&mut self, node: &'a Node, path: &str) -> Option<&'a str> {
        self.typed(node, path, Ty::String).then(|| node.as_str())?
    }

    fn one_of(&mut self, node: &Node, path: &str, allowed: &[&str]) {
        if let Some(s) = self.string(node, path)
            && !allowed.contains(&s)
        {
            self.fail(
                path,
                format!("{s:?} is not allowed; allowed: {}", allowed.join(", ")),
            );
        }
    }

    fn required(&mut self, node: &Node, path: &str, keys: &[&str]) {
        for key in keys {
            if node.get(key).is_none() {
                self.fail(&child(path, key), "required but missing");
            }
        }
    }

    fn only(&mut self, node: &Node, path: &str, allowed: &[&str]) {
        for (key, _) in node.entries().unwrap_or_default() {
            if !allowed.contains(&key.as_str()) {
                self.fail(
                    &child(path, key),
                    format!("unknown key {key:?}; allowed: {}", allowed.join(", ")),
                );
            }
        }
    }

    fn string_array(&mut self, node: &Node, path: &str) {
        if let Node::Array(items) = node {
            for (i, item) in items.iter().enumerate() {
                self.typed(item, &child(path, &i.to_string()), Ty::String);
            }
        } else {
            self.typed(node, path, Ty::Array);
        }
    }

    /// Text, or an object of at least one known language → text.
    fn localized(&mut self, node: &Node, path: &str) {
        match node {
            Node::String(_) => {}
            Node::Object(entries) if entries.is_empty() => {
                self.fail(path, "must give the text in at least one language");
            }
            Node::Object(entries) => {
                for (lang, text) in entries {
                    let p = child(path, lang);
                    if LANGUAGES.contains(&lang.as_str()) {
                        self.typed(text, &p, Ty::String);
                    } else {
                        self.fail(
                            &p,
                            format!(
                                "unknown language {lang:?}; allowed: {}",
                                LANGUAGES.join(", ")
                            ),
                        );
                    }
                }
            }
            other => self.fail(
                path,
                format!(
                    "must be a string or an object of language → text, found {}",
                    other.type_name()
                ),
            ),
        }
    }

    fn document(&mut self, root: &Node) {
        let Some(entries) = root.entries() else {
            self.fail("", format!("must be an object, found {}", root.type_name()));
            return;
        };
        self.required(
            root,
            "",
            &[
                "$schema",
                "name",
                "description",
                "executable",
                "environment",
            ],
        );
        for (key, value) in entries {
            let path = child("", key);
            let path = path.as_str();
            match key.as_str() {
                "$schema" | "image" | "author" | "license" | "category" | "homepage" | "uuid"
                | "schemaVersion" | "executable" | "cmdparamsTemplate" => {
                    self.string(value, path);
                }
                "title" | "name" | "description" => self.localized(value, path),
                "tags" | "requirements" => self.string_array(value, path),
                "version" => {
                    if let Some(v) = self.string(value, path)
                        && !is_version(v)
                    {
                        self.fail(
                            path,
                            format!(
                                "{v:?} is not a version: 1 to 4 dot-separated numbers without \
                                 leading zeros (1, 1.2, 1.2.3)"
                            ),
                        );
                    }
                }
                "ociimage" => {
                    if let Some(v) = self.string(value, path)
                        && !is_image_reference(v)
                    {
                        self.fail(
                            path,
                            format!(
                                "{v:?} is not an OCI image reference: one or more letters, \
                                 digits, '_', '.', '/', ':' or '-'"
                            ),
                        );
                    }
                }
                "environment" => self.environment(value, path),
                "artifacts" => self.artifacts(value, path),
                "produces" => self.data_ports(value, path, "patterns"),
                "consumes" => self.data_ports(value, path, "required"),
                "events" => self.events(value, path),
                "exitCodes" => self.exit_codes(value, path),
                "kubernetes" => self.kubernetes(value, path),
                _ => {}
            }
        }
    }

    fn environment(&mut self, node: &Node, path: &str) {
        if !self.typed(node, path, Ty::Object) {
            return;
        }
        let types = EnvFieldType::ALL.map(EnvFieldType::as_str);
        for (name, field) in node.entries().unwrap_or_default() {
            if !is_env_name(name) {
                continue;
            }
            let path = child(path, name);
            if !self.typed(field, &path, Ty::Object) {
                continue;
            }
            for (key, value) in field.entries().unwrap_or_default() {
                let p = child(&path, key);
                match key.as_str() {
                    "type" => self.one_of(value, &p, &types),
                    "category" => self.one_of(value, &p, &FIELD_CATEGORIES),
                    "description" | "hint" => self.localized(value, &p),
                    "required" => {
                        self.typed(value, &p, Ty::Boolean);
                    }
                    "options" if !matches!(value, Node::Object(_) | Node::Array(_)) => {
                        self.fail(
                            &p,
                            format!("must be an object or an array, found {}", value.type_name()),
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    fn artifacts(&mut self, node: &Node, path: &str) {
        let Node::Array(items) = node else {
            self.typed(node, path, Ty::Array);
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let path = child(path, &i.to_string());
            if !self.typed(item, &path, Ty::Object) {
                continue;
            }
            self.required(item, &path, &["name", "path", "type"]);
            self.only(item, &path, &["name", "path", "type", "description"]);
            for (key, value) in item.entries().unwrap_or_default() {
                let p = child(&path, key);
                match key.as_str() {
                    "name" | "description" => self.localized(value, &p),
                    "path" | "type" => {
                        self.string(value, &p);
                    }
                    _ => {}
                }
            }
        }
    }

    /// `produces` (with `patterns`) and `consumes` (with `required`).
    fn data_ports(&mut self, node: &Node, path: &str, extra: &str) {
        if !self.typed(node, path, Ty::Object) {
            return;
        }
        for (name, port) in node.entries().unwrap_or_default() {
            if !name_matches(name, "_-") {
                continue;
            }
            let path = child(path, name);
            if !self.typed(port, &path, Ty::Object) {
                continue;
            }
            self.required(port, &path, &["format"]);
            for (key, value) in port.entries().unwrap_or_default() {
                let p = child(&path, key);
                match key.as_str() {
                    "description" => self.localized(value, &p),
                    "format" => self.one_of(value, &p, &DATA_FORMATS),
                    "patterns" if extra == "patterns" => self.string_array(value, &p),
                    "required" if extra == "required" => {
                        self.typed(value, &p, Ty::Boolean);
                    }
                    _ => {}
                }
            }
        }
    }

    fn events(&mut self, node: &Node, path: &str) {
        if !self.typed(node, path, Ty::Object) {
            return;
        }
        self.only(node, path, &["emits", "consumes"]);
        for (side, events) in node.entries().unwrap_or_default() {
            if side != "emits" && side != "consumes" {
                continue;
            }
            let path = child(path, side);
            if !self.typed(events, &path, Ty::Object) {
                continue;
            }
            for (name, event) in events.entries().unwrap_or_default() {
                if !name_matches(name, "_.-") {
                    continue;
                }
                let path = child(&path, name);
                if !self.typed(event, &path, Ty::Object) {
                    continue;
                }
                for (key, value) in event.entries().unwrap_or_default() {
                    let p = child(&path, key);
                    match (side.as_str(), key.as_str()) {
                        (_, "description") => self.localized(value, &p),
                        ("emits", "evidence") => {
                            self.string(value, &p);
                        }
                        ("emits", "operation") => self.one_of(value, &p, &OPERATIONS),
                        ("consumes", "format") => self.one_of(value, &p, &DATA_FORMATS),
                        _ => {}
                    }
                }
            }
        }
    }

    fn exit_codes(&mut self, node: &Node, path: &str) {
        if !self.typed(node, path, Ty::Object) {
            return;
        }
        for (code, info) in node.entries().unwrap_or_default() {
            let path = child(path, code);
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
                self.fail(
                    &path,
                    format!("{code:?} is not an exit code: keys must be digits only"),
                );
                continue;
            }
            if !self.typed(info, &path, Ty::Object) {
                continue;
            }
            self.required(info, &path, &["description"]);
            self.only(info, &path, &["description", "severity", "retry"]);
            for (key, value) in info.entries().unwrap_or_default() {
                let p = child(&path, key);
                match key.as_str() {
                    "description" => self.localized(value, &p),
                    "severity" => self.one_of(value, &p, &SEVERITIES),
                    "retry" => {
                        self.typed(value, &p, Ty::Boolean);
                    }
                    _ => {}
                }
            }
        }
    }

    fn kubernetes(&mut self, node: &Node, path: &str) {
        if !self.typed(node, path, Ty::Object) {
            return;
        }
        self.required(node, path, &["helm"]);
        self.only(node, path, &["helm", "artifacts"]);
        if let Some(helm) = node.get("helm") {
            self.helm(helm, &child(path, "helm"));
        }
        if let Some(artifacts) = node.get("artifacts") {
            let path = child(path, "artifacts");
            if self.typed(artifacts, &path, Ty::Object) {
                self.only(
                    artifacts,
                    &path,
                    &["enabled", "outputPath", "keepPodOnFailure"],
                );
                for (key, value) in artifacts.entries().unwrap_or_default() {
                    let p = child(&path, key);
                    match key.as_str() {
                        "enabled" | "keepPodOnFailure" => {
                            self.typed(value, &p, Ty::Boolean);
                        }
                        "outputPath" => {
                            self.string(value, &p);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn helm(&mut self, helm: &Node, path: &str) {
        if !self.typed(helm, path, Ty::Object) {
            return;
        }
        self.only(
            helm,
            path,
            &[
                "enabled",
                "releaseName",
                "namespace",
                "chart",
                "valuesFiles",
                "set",
                "upgradeInstall",
                "timeoutSeconds",
                "atomic",
                "wait",
            ],
        );
        for (key, value) in helm.entries().unwrap_or_default() {
            let p = child(path, key);
            match key.as_str() {
                "enabled" | "upgradeInstall" | "atomic" | "wait" => {
                    self.typed(value, &p, Ty::Boolean);
                }
                "releaseName" | "namespace" => {
                    if let Some(s) = self.string(value, &p)
                        && !is_dns_label(s)
                    {
                        self.fail(
                            &p,
                            format!(
                                "{s:?} is not a DNS-1123 label: lowercase letters, digits and \
                                 '-', starting and ending with a letter or digit"
                            ),
                        );
                    }
                }
                "chart" => {
                    if let Some(s) = self.string(value, &p) {
                        let forms = chart_forms(s);
                        if forms != 1 {
                            self.fail(
                                &p,
                                format!(
                                    "{s:?} must be exactly one of: an OCI chart (oci://…), \
                                     repo/chart, or a path starting with ./, ../ or / \
                                     (it matches {forms})"
                                ),
                            );
                        }
                    }
                }
                "valuesFiles" => {
                    if matches!(value, Node::Array(items) if items.is_empty()) {
                        self.fail(&p, "must list at least one values file");
                    }
                    self.string_array(value, &p);
                }
                "set" if self.typed(value, &p, Ty::Object) => {
                    for (k, v) in value.entries().unwrap_or_default() {
                        if !matches!(v, Node::String(_) | Node::Number(_) | Node::Bool(_)) {
                            self.fail(
                                &child(&p, k),
                                format!(
                                    "must be a string, a number or a boolean, found {}",
                                    v.type_name()
                                ),
                            );
                        }
                    }
                }
                "timeoutSeconds" => {
                    if self.typed(value, &p, Ty::Integer)
                        && let Node::Number(n) = value
                        && !n.as_f64().is_some_and(|f| (1.0..=3600.0).contains(&f))
                    {
                        self.fail(&p, format!("{n} is out of range 1..=3600"));
                    }
                }
                _ => {}
            }
        }
        if matches!(helm.get("enabled"), Some(Node::Bool(true))) {
            for key in ["chart", "releaseName"] {
                if helm.get(key).is_none() {
                    self.fail(
                        &child(path, key),
                        "required when \"enabled\" is true, but missing",
                    );
                }
            }
        }
    }
}

/// `^[A-Z0-9_]+$`: the environment keys the schema constrains.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `^[a-zA-Z0-9<extra>]+$`.
fn name_matches(name: &str, extra: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// `1`, `1.2`, `1.2.3` or `1.2.3.4`, each part `0` or digits without a leading zero.
fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() <= 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (*p == "0" || !p.starts_with('0'))
        })
}

/// `^[\w./:-]+(:[\w.-]+)?$`: word characters and `. / : -`, at least one.
fn is_image_reference(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '-'))
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`.
fn is_dns_label(s: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            ok(first) && ok(last) && bytes.iter().all(|&b| ok(b) || b == b'-')
        }
        _ => false,
    }
}

/// How many of the chart forms `s` matches (the schema wants exactly one): `^oci://.+`,
/// `^[a-zA-Z0-9._-]+/[a-zA-Z0-9._-]+$`, `^(\./|\.\./|/).+`.
fn chart_forms(s: &str) -> usize {
    let rest_nonempty = |rest: &str| rest.chars().next().is_some_and(|c| c != '\n');
    let oci = s.strip_prefix("oci://").is_some_and(rest_nonempty);
    let repo = {
        let part = |p: &str| name_matches(p, "._-");
        matches!(s.split_once('/'), Some((a, b)) if part(a) && part(b))
    };
    let path = ["./", "../", "/"]
        .iter()
        .any(|prefix| s.strip_prefix(prefix).is_some_and(rest_nonempty));
    usize::from(oci) + usize::from(repo) + usize::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        for v in ["1", "1.2", "1.2.3", "1.2.3.4", "0.10.0"] {
            assert!(is_version(v), "{v}");
        }
        for v in ["", "1.", "01", "1.2.3.4.5", "v1", "1.0-beta"] {
            assert!(!is_version(v), "{v}");
        }
        assert!(is_image_reference("docker.io/vitexsoftware/app:1.2"));
        assert!(!is_image_reference(""));
        assert!(!is_image_reference("a b"));
        assert!(is_dns_label("my-release1"));
        assert!(!is_dns_label("-a") && !is_dns_label("A") && !is_dns_label(""));
        assert_eq!(chart_forms("oci://r/c"), 1);
        assert_eq!(chart_forms("repo/chart"), 1);
        assert_eq!(chart_forms("/abs/path"), 1);
        assert_eq!(chart_forms("./chart"), 2);
        assert_eq!(chart_forms("chart"), 0);
    }

    fn paths(json: &str) -> Vec<String> {
        validate(json.as_bytes())
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    fn kubernetes_rules() {
        let base =
            r#""$schema":"s","name":"n","description":"d","executable":"e","environment":{}"#;
        let doc = format!(
            r#"{{{base},"kubernetes":{{"helm":{{"enabled":true,"namespace":"Bad","timeoutSeconds":0,"valuesFiles":[],"set":{{"a":[1]}}}},"x":1}}}}"#
        );
        assert_eq!(
            paths(&doc),
            [
                "/kubernetes/x",
                "/kubernetes/helm/namespace",
                "/kubernetes/helm/timeoutSeconds",
                "/kubernetes/helm/valuesFiles",
                "/kubernetes/helm/set/a",
                "/kubernetes/helm/chart",
                "/kubernetes/helm/releaseName",
            ]
        );
        assert_eq!(
            paths(&format!(r#"{{{base},"kubernetes":{{}}}}"#)),
            ["/kubernetes/helm"]
        );
    }

    #[test]
    fn not_json_and_not_object() {
        let v = validate(b"[1,]");
        assert_eq!(v.len(), 1);
        assert!(
            v[0].message.contains("line 1, column 4"),
            "{}",
            v[0].message
        );
        assert_eq!(paths("[]"), [""]);
    }
}

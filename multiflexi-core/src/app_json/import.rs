//! `parse_app`: an application definition file → [`App`], tolerating the legacy shapes of real
//! files with one warning per deviation.

use super::field_type::{TypeName, read_type};
use super::lenient::{
    ListShape, Warnings, bool_from_text, count, flag, given, list, localized, optional_localized,
    optional_text, split_commas, text,
};
use super::report::{ImportError, ImportedApp, WarningKind};
use super::tree::{self, Node, child};
use crate::artifact::PathPattern;
use crate::model::{App, ArtifactPattern, EnvFieldDef, EnvFieldType, ExitCodeInfo, LocalizedText};
use std::collections::BTreeMap;

/// Reads an application definition (MultiFlexi app JSON, modern or legacy) into an unsaved
/// [`App`].
///
/// Pure: it reads nothing but `bytes` and writes nothing. Tolerated deviations come back as
/// [`ImportWarning`](super::ImportWarning)s, each with its JSON path:
///
/// - repeated object keys: the last occurrence wins (at the first one's position);
/// - `topics` for `tags`, `requirements`/`tags` as comma-separated text, `cmdparamsTemplate`
///   when `cmdparams` is absent;
/// - field types outside the schema's enum mapped to the nearest (`boolean`/`checkbox`/`switch`
///   → `bool`, `int`/`number` → `integer`, `select` → `set`, `file`/`directory` → `file-path`;
///   a missing type is `string`, an unknown one is `string` with a warning);
/// - booleans written as text or numbers (`"True"`, `"false"`, `""`, `1`) in `required`,
///   `secret` and `retry`; numbers where text is expected;
/// - lowercase `exitcodes` (not read, as MultiFlexi does not read it either);
/// - an `executable` with spaces (`python3 src/main.py`): the first word is the program, the
///   rest goes before `cmdparams`;
/// - field definitions at the top level (`"API_URL": {"type": "string"}` beside `name`): read
///   as fields unless `environment` has them; a plain value under such a key is reported;
/// - a bool field's default that is not a JSON boolean: converted when it spells one
///   (`"False"`), else left out;
/// - artifact paths: globs, regular expressions or macros, told apart as
///   [`classify`](crate::artifact::classify) says; one that is not valid in its notation is
///   left out, one that can match no file is kept with a
///   [`NeverMatches`](WarningKind::NeverMatches) warning;
/// - a UTF-8 byte-order mark before the JSON (skipped).
///
/// Values the schema leaves open are read quietly: `defval` of any scalar type, `options` as an array or an object, `hint` and
/// `name`/`description` as text or localized objects (all languages kept), `homepage: null`,
/// empty `ociimage`/`setup`/`uuid`/`version` as absent. Macros in `cmdparams` and defaults
/// (`{X}`, `{{ X }}`, `${X}`) are kept exactly as written. Keys the model does not keep
/// (`image`, `deploy`, `events`, `produces`, `multiflexi`, …) are ignored.
///
/// # Errors
///
/// [`ImportError`] when the bytes are not JSON (with line and column; a file holding
/// merge-conflict markers is told so), the document is not an object, or it has no usable
/// `name` or `executable`.
pub fn parse_app(bytes: &[u8]) -> Result<ImportedApp, ImportError> {
    let (root, duplicates) =
        tree::parse(bytes).map_err(|e| match tree::conflict_marker(bytes) {
            Some((line, marker)) => ImportError::MergeConflict { line, marker },
            None => ImportError::NotJson {
                line: e.line,
                column: e.column,
                message: e.message,
            },
        })?;
    if !matches!(root, Node::Object(_)) {
        return Err(ImportError::NotAnObject {
            found: root.type_name(),
        });
    }
    let mut w = Warnings::default();
    if bytes.starts_with(tree::BOM) {
        w.warn(
            "",
            WarningKind::Ignored,
            "UTF-8 byte-order mark at the start of the file skipped",
        );
    }
    for d in duplicates {
        w.warn(
            &d.path,
            WarningKind::DuplicateKey,
            format!(
                "key {:?} appears {} times{}; the last occurrence is used",
                d.key,
                d.count,
                if d.lost {
                    " with different values"
                } else {
                    " with the same value"
                }
            ),
        );
    }

    let name = read_name(&root, &mut w)?;
    let (executable, leading_args) = split_executable(read_executable(&root, &mut w)?, &mut w);
    let mut app = App::new("", executable);
    app.name = name;
    app.description = optional_localized(root.get("description"), "/description", &mut w);
    app.uuid = optional_text(root.get("uuid"), "/uuid", &mut w);
    app.version = optional_text(root.get("version"), "/version", &mut w);
    app.ociimage = optional_text(root.get("ociimage"), "/ociimage", &mut w);
    app.setup = optional_text(root.get("setup"), "/setup", &mut w);
    app.homepage = optional_text(root.get("homepage"), "/homepage", &mut w);
    app.cmdparams = match (leading_args, read_cmdparams(&root, &mut w)) {
        (Some(lead), rest) if rest.trim().is_empty() => lead,
        (Some(lead), rest) => format!("{lead} {rest}"),
        (None, rest) => rest,
    };
    app.tags = read_tags(&root, &mut w);
    app.requirements = read_requirements(&root, &mut w);
    app.environment = read_environment(&root, &mut w);
    read_top_level_fields(&root, &mut app.environment, &mut w);
    app.artifacts = read_artifacts(&root, &app.environment, &mut w);
    app.exit_codes = read_exit_codes(&root, &mut w);
    if root.get("exitcodes").is_some() {
        w.warn(
            "/exitcodes",
            WarningKind::Ignored,
            "lowercase \"exitcodes\" is not read (MultiFlexi ignores it too); exit codes belong \
             under \"exitCodes\"",
        );
    }
    Ok(ImportedApp { app, warnings: w.0 })
}

fn has_text(t: &LocalizedText) -> bool {
    t.0.values().any(|v| !v.trim().is_empty())
}

fn read_name(root: &Node, w: &mut Warnings) -> Result<LocalizedText, ImportError> {
    let reason = match given(root.get("name")) {
        None => "\"name\" is missing".to_owned(),
        Some(n @ (Node::String(_) | Node::Object(_) | Node::Number(_) | Node::Bool(_))) => {
            let name = localized(n, "/name", w);
            if has_text(&name) {
                return Ok(name);
            }
            "\"name\" is empty".to_owned()
        }
        Some(other) => format!(
            "\"name\" must be text or an object of language → text, found {}",
            other.type_name()
        ),
    };
    Err(ImportError::NoName { reason })
}

fn read_executable(root: &Node, w: &mut Warnings) -> Result<String, ImportError> {
    let reason = match given(root.get("executable")) {
        None => "\"executable\" is missing".to_owned(),
        Some(n @ (Node::String(_) | Node::Number(_) | Node::Bool(_))) => {
            match text(n, "/executable", w) {
                Some(s) if !s.trim().is_empty() => return Ok(s),
                _ => "\"executable\" is empty".to_owned(),
            }
        }
        Some(other) => format!(
            "\"executable\" must be text (a program name or path), found {}",
            other.type_name()
        ),
    };
    Err(ImportError::NoExecutable { reason })
}

/// `python3 src/main.py` → program `python3` and leading arguments `src/main.py` (which go
/// before `cmdparams`), with a warning. A program path is never split inside quotes, and no
/// shell is involved: the arguments are split like `cmdparams`.
fn split_executable(executable: String, w: &mut Warnings) -> (String, Option<String>) {
    let trimmed = executable.trim();
    let Some((program, rest)) = trimmed.split_once(char::is_whitespace) else {
        return (trimmed.to_owned(), None);
    };
    let rest = rest.trim();
    w.warn(
        "/executable",
        WarningKind::Converted,
        format!(
            "{trimmed:?} has spaces: the program is {program:?} and {rest:?} go before \
             \"cmdparams\" as its first arguments"
        ),
    );
    (program.to_owned(), Some(rest.to_owned()))
}

fn read_cmdparams(root: &Node, w: &mut Warnings) -> String {
    let cmdparams = given(root.get("cmdparams"));
    let template = given(root.get("cmdparamsTemplate"));
    match (cmdparams, template) {
        (Some(c), template) => {
            let used = text(c, "/cmdparams", w).unwrap_or_default();
            if let Some(t) = template {
                let other = text(t, "/cmdparamsTemplate", &mut Warnings::default());
                if other.is_some_and(|o| !o.is_empty() && o != used) {
                    w.warn(
                        "/cmdparamsTemplate",
                        WarningKind::Ignored,
                        "differs from \"cmdparams\", which is the one used",
                    );
                }
            }
            used
        }
        (None, Some(t)) => {
            let used = text(t, "/cmdparamsTemplate", w).unwrap_or_default();
            w.warn(
                "/cmdparamsTemplate",
                WarningKind::KeyAlias,
                "no \"cmdparams\"; the command line is taken from \"cmdparamsTemplate\"",
            );
            used
        }
        (None, None) => String::new(),
    }
}

fn read_tags(root: &Node, w: &mut Warnings) -> Vec<String> {
    match (given(root.get("tags")), given(root.get("topics"))) {
        (Some(tags), topics) => {
            let (out, shape) = list(tags, "/tags", w);
            if shape == ListShape::CommaText {
                w.warn(
                    "/tags",
                    WarningKind::Converted,
                    format!(
                        "comma-separated text read as a list of {}",
                        count(out.len(), "tag")
                    ),
                );
            }
            if let Some(topics) = topics {
                let (legacy, _) = list(topics, "/topics", &mut Warnings::default());
                if legacy != out {
                    w.warn(
                        "/topics",
                        WarningKind::Ignored,
                        "legacy \"topics\" is not read because \"tags\" is present",
                    );
                }
            }
            out
        }
        (None, Some(topics)) => {
            let (out, shape) = list(topics, "/topics", w);
            let how = match shape {
                ListShape::CommaText => format!(
                    " (comma-separated text split into {})",
                    count(out.len(), "tag")
                ),
                ListShape::Array => String::new(),
            };
            w.warn(
                "/topics",
                WarningKind::KeyAlias,
                format!("legacy key \"topics\" read as \"tags\"{how}"),
            );
            out
        }
        (None, None) => Vec::new(),
    }
}

fn read_requirements(root: &Node, w: &mut Warnings) -> Vec<String> {
    let Some(node) = given(root.get("requirements")) else {
        return Vec::new();
    };
    let (out, shape) = list(node, "/requirements", w);
    if shape == ListShape::CommaText {
        w.warn(
            "/requirements",
            WarningKind::Converted,
            format!(
                "comma-separated text read as a list of {}",
                count(out.len(), "requirement")
            ),
        );
    }
    out
}

fn read_environment(root: &Node, w: &mut Warnings) -> Vec<EnvFieldDef> {
    match given(root.get("environment")) {
        None => Vec::new(),
        Some(Node::Object(entries)) => entries
            .iter()
            .filter_map(|(name, def)| read_field(name, def, &child("/environment", name), w))
            .collect(),
        Some(Node::Array(items)) if items.is_empty() => {
            w.warn(
                "/environment",
                WarningKind::Converted,
                "empty list read as no fields",
            );
            Vec::new()
        }
        Some(other) => {
            w.warn(
                "/environment",
                WarningKind::Ignored,
                format!(
                    "expected an object of fields, found {}; no fields read",
                    other.type_name()
                ),
            );
            Vec::new()
        }
    }
}

/// Whether a top-level key is written like an environment variable (`ABRAFLEXI_URL`): upper
/// case letters, digits and `_`, not starting with a digit. No key of the schema is.
fn looks_like_variable(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && key.chars().any(|c| c.is_ascii_uppercase())
}

/// Field definitions written at the top level of the file instead of under `environment`:
/// an object under a variable-like key is read as a field (with a warning) unless
/// `environment` defines it too; a plain value there is reported, never silently dropped.
fn read_top_level_fields(root: &Node, env: &mut Vec<EnvFieldDef>, w: &mut Warnings) {
    let Some(entries) = root.entries() else {
        return;
    };
    for (key, value) in entries {
        if !looks_like_variable(key) {
            continue;
        }
        let path = child("", key);
        if env.iter().any(|f| f.name == *key) {
            w.warn(
                &path,
                WarningKind::Ignored,
                format!(
                    "{key:?} is also defined under \"environment\", which is the one used; \
                     this top-level definition is not read"
                ),
            );
            continue;
        }
        if !matches!(value, Node::Object(_)) {
            w.warn(
                &path,
                WarningKind::Ignored,
                format!(
                    "top-level {key:?} is a {} value, not a field definition; not read (fields \
                     belong under \"environment\" as {{\"type\": …, \"defval\": …}})",
                    value.type_name()
                ),
            );
            continue;
        }
        if let Some(field) = read_field(key, value, &path, w) {
            w.warn(
                &path,
                WarningKind::KeyAlias,
                format!(
                    "field {key:?} is defined at the top level; read as if it were under \
                     \"environment\""
                ),
            );
            env.push(field);
        }
    }
}

fn read_field(name: &str, def: &Node, path: &str, w: &mut Warnings) -> Option<EnvFieldDef> {
    if name.is_empty() || name.contains(['=', '\0']) {
        w.warn(
            path,
            WarningKind::Ignored,
            format!("{name:?} cannot be an environment variable name; field left out"),
        );
        return None;
    }
    if !matches!(def, Node::Object(_)) {
        w.warn(
            path,
            WarningKind::Ignored,
            format!(
                "expected an object describing the field, found {}; field left out",
                def.type_name()
            ),
        );
        return None;
    }
    let kind = read_field_type(def, &child(path, "type"), w);
    let mut field = EnvFieldDef::new(name, kind);
    if let Some(secret) = given(def.get("secret")) {
        field.secret |= flag(secret, &child(path, "secret"), w);
    }
    if let Some(required) = def.get("required") {
        field.required = flag(required, &child(path, "required"), w);
    }
    field.description = optional_localized(def.get("description"), &child(path, "description"), w);
    field.hint = optional_localized(def.get("hint"), &child(path, "hint"), w);
    field.default = read_default(def.get("defval"), kind, &child(path, "defval"), w);
    field.options = read_options(def.get("options"), &child(path, "options"), w);
    Some(field)
}

fn read_field_type(def: &Node, path: &str, w: &mut Warnings) -> EnvFieldType {
    match given(def.get("type")) {
        None => EnvFieldType::String,
        Some(Node::String(raw)) => match read_type(raw) {
            TypeName::Exact(t) => t,
            TypeName::Nearest(t) => {
                w.warn(
                    path,
                    WarningKind::TypeMapped,
                    format!(
                        "type {raw:?} is not in the schema; read as {t:?}",
                        t = t.as_str()
                    ),
                );
                t
            }
            TypeName::Unknown => {
                w.warn(
                    path,
                    WarningKind::TypeMapped,
                    format!(
                        "unknown type {raw:?}; read as \"string\" (allowed: {})",
                        EnvFieldType::ALL.map(EnvFieldType::as_str).join(", ")
                    ),
                );
                EnvFieldType::String
            }
        },
        Some(other) => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "expected a type name, found {}; read as \"string\"",
                    other.type_name()
                ),
            );
            EnvFieldType::String
        }
    }
}

/// `defval` as text. The schema allows any value, so scalars convert quietly; a bool field's
/// default is normalized to `true`/`false` when it spells a boolean.
fn read_default(
    node: Option<&Node>,
    kind: EnvFieldType,
    path: &str,
    w: &mut Warnings,
) -> Option<String> {
    let given_node = given(node)?;
    if kind == EnvFieldType::Bool {
        return read_bool_default(given_node, path, w);
    }
    let raw = match given_node {
        Node::String(s) => s.clone(),
        Node::Number(n) => n.to_string(),
        Node::Bool(b) => b.to_string(),
        other => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "a default must be a single value, found {}; left out",
                    other.type_name()
                ),
            );
            return None;
        }
    };
    Some(raw)
}

/// A bool field's default: a JSON boolean as it is; text or a number that spells one
/// (`"False"`, `1`) converted with a warning; anything else left out with a warning (the
/// field then has no default).
fn read_bool_default(node: &Node, path: &str, w: &mut Warnings) -> Option<String> {
    let (shown, parsed) = match node {
        Node::Bool(b) => return Some(b.to_string()),
        Node::String(s) => (format!("text {s:?}"), bool_from_text(s)),
        Node::Number(n) => (
            format!("number {n}"),
            n.as_f64().and_then(|f| {
                if f == 1.0 {
                    Some(true)
                } else if f == 0.0 {
                    Some(false)
                } else {
                    None
                }
            }),
        ),
        other => (other.type_name().to_owned(), None),
    };
    match parsed {
        Some(b) => {
            w.warn(
                path,
                WarningKind::Converted,
                format!("the default of a bool field is {shown}, not a boolean; read as {b}"),
            );
            Some(b.to_string())
        }
        None => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "the default of a bool field must be true or false, found {shown}; the \
                     field has no default"
                ),
            );
            None
        }
    }
}

/// `options` of a `set` field: an array of values (each its own label) or an object of
/// value → label, in file order.
fn read_options(node: Option<&Node>, path: &str, w: &mut Warnings) -> Vec<(String, String)> {
    match given(node) {
        None => Vec::new(),
        Some(Node::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| read_option_item(item, &child(path, &i.to_string()), w))
            .collect(),
        Some(Node::Object(entries)) => entries
            .iter()
            .map(|(value, label)| {
                let label = read_option_label(label, &child(path, value), w)
                    .unwrap_or_else(|| value.clone());
                (value.clone(), label)
            })
            .collect(),
        Some(Node::String(s)) => {
            let out: Vec<_> = split_commas(s)
                .into_iter()
                .map(|v| (v.clone(), v))
                .collect();
            w.warn(
                path,
                WarningKind::Converted,
                format!(
                    "comma-separated text read as {}",
                    count(out.len(), "option")
                ),
            );
            out
        }
        Some(other) => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "expected an array or an object of options, found {}; left out",
                    other.type_name()
                ),
            );
            Vec::new()
        }
    }
}

fn read_option_item(item: &Node, path: &str, w: &mut Warnings) -> Option<(String, String)> {
    if let Node::Object(_) = item
        && let Some(value) = given(item.get("value"))
    {
        let value = text(value, &child(path, "value"), w)?;
        let label = given(item.get("label"))
            .and_then(|l| read_option_label(l, &child(path, "label"), w))
            .unwrap_or_else(|| value.clone());
        w.warn(
            path,
            WarningKind::Converted,
            "{value, label} object read as one option",
        );
        return Some((value, label));
    }
    let value = text(item, path, w)?;
    Some((value.clone(), value))
}

fn read_option_label(label: &Node, path: &str, w: &mut Warnings) -> Option<String> {
    match label {
        Node::Object(_) => {
            let text = localized(label, path, w);
            w.warn(
                path,
                WarningKind::Converted,
                "localized label: only the English (or first) text is kept",
            );
            Some(text.text().to_owned())
        }
        other => text(other, path, w),
    }
}

fn read_artifacts(root: &Node, env: &[EnvFieldDef], w: &mut Warnings) -> Vec<ArtifactPattern> {
    const PATH: &str = "/artifacts";
    match given(root.get("artifacts")) {
        None => Vec::new(),
        Some(Node::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| read_artifact(item, &child(PATH, &i.to_string()), env, w))
            .collect(),
        Some(Node::String(s)) => comma_patterns(s, PATH, env, w),
        Some(obj @ Node::Object(_)) if matches!(obj.get("pattern"), Some(Node::String(_))) => {
            let s = obj
                .get("pattern")
                .and_then(Node::as_str)
                .unwrap_or_default();
            comma_patterns(s, &child(PATH, "pattern"), env, w)
        }
        Some(other) => {
            w.warn(
                PATH,
                WarningKind::Ignored,
                format!(
                    "expected an array of artifacts, found {}; left out",
                    other.type_name()
                ),
            );
            Vec::new()
        }
    }
}

/// Whether an artifact path, compiled as [`PathPattern`] reads it (glob, regular expression
/// or macro), is kept: one that is not valid in its notation is left out with a warning (a job
/// could not use it); one that can match no file, or a macro whose variable the app does not
/// declare, stays with a warning; braces read as a group are noted.
fn keep_pattern(raw: &str, path: &str, env: &[EnvFieldDef], w: &mut Warnings) -> bool {
    let pattern = match PathPattern::new(raw) {
        Ok(p) => p,
        Err(reason) => {
            w.warn(path, WarningKind::Ignored, format!("{reason}; left out"));
            return false;
        }
    };
    if let Some(why) = pattern.never_matches() {
        w.warn(path, WarningKind::NeverMatches, why);
    }
    if let Some(var) = pattern.variable()
        && !env.iter().any(|f| f.name == var)
    {
        w.warn(
            path,
            WarningKind::NeverMatches,
            format!(
                "{raw:?} names the file in variable {var}, which the app does not declare: it \
                 matches nothing unless a credential or the run template's configuration sets \
                 {var}"
            ),
        );
    }
    if pattern.regrouped_braces() {
        w.warn(
            path,
            WarningKind::Converted,
            format!(
                "{raw:?} is read as a regular expression whose braces group what they enclose \
                 (they are not a repetition count); PCRE would match literal braces"
            ),
        );
    }
    true
}

fn comma_patterns(
    s: &str,
    path: &str,
    env: &[EnvFieldDef],
    w: &mut Warnings,
) -> Vec<ArtifactPattern> {
    let out: Vec<_> = split_commas(s)
        .into_iter()
        .filter(|p| keep_pattern(p, path, env, w))
        .map(|p| ArtifactPattern::new(p, ""))
        .collect();
    w.warn(
        path,
        WarningKind::Converted,
        format!(
            "comma-separated path patterns read as {}",
            count(out.len(), "artifact")
        ),
    );
    out
}

fn read_artifact(
    item: &Node,
    path: &str,
    env: &[EnvFieldDef],
    w: &mut Warnings,
) -> Option<ArtifactPattern> {
    match item {
        Node::Object(_) => {
            let Some(file) = given(item.get("path")).and_then(|p| text(p, &child(path, "path"), w))
            else {
                w.warn(
                    path,
                    WarningKind::Ignored,
                    "artifact without a path; left out",
                );
                return None;
            };
            if !keep_pattern(&file, &child(path, "path"), env, w) {
                return None;
            }
            let kind = given(item.get("type"))
                .and_then(|t| text(t, &child(path, "type"), w))
                .unwrap_or_default();
            let mut a = ArtifactPattern::new(file, kind);
            a.name = optional_localized(item.get("name"), &child(path, "name"), w);
            a.description =
                optional_localized(item.get("description"), &child(path, "description"), w);
            Some(a)
        }
        Node::String(s) => {
            w.warn(
                path,
                WarningKind::Converted,
                "bare path read as an artifact named after it",
            );
            keep_pattern(s, path, env, w).then(|| ArtifactPattern::new(s.clone(), ""))
        }
        other => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "expected an artifact object, found {}; left out",
                    other.type_name()
                ),
            );
            None
        }
    }
}

fn read_exit_codes(root: &Node, w: &mut Warnings) -> BTreeMap<i32, ExitCodeInfo> {
    const PATH: &str = "/exitCodes";
    let mut out = BTreeMap::new();
    match given(root.get("exitCodes")) {
        None => {}
        Some(Node::Object(entries)) => {
            let mut spelled: BTreeMap<i32, &str> = BTreeMap::new();
            for (key, value) in entries {
                let path = child(PATH, key);
                let Ok(code) = key.trim().parse::<i32>() else {
                    w.warn(
                        &path,
                        WarningKind::Ignored,
                        format!("{key:?} is not an exit code number; left out"),
                    );
                    continue;
                };
                let Some(info) = read_exit_code(value, &path, w) else {
                    continue;
                };
                if let Some(first) = spelled.insert(code, key) {
                    w.warn(
                        &path,
                        WarningKind::DuplicateKey,
                        format!("exit code {code} is also given as {first:?}; this one is used"),
                    );
                }
                out.insert(code, info);
            }
        }
        Some(Node::Array(items)) if items.is_empty() => {
            w.warn(
                PATH,
                WarningKind::Converted,
                "empty list read as no exit codes",
            );
        }
        Some(other) => {
            w.warn(
                PATH,
                WarningKind::Ignored,
                format!(
                    "expected an object of exit codes, found {}; left out",
                    other.type_name()
                ),
            );
        }
    }
    out
}

fn read_exit_code(value: &Node, path: &str, w: &mut Warnings) -> Option<ExitCodeInfo> {
    let mut info = ExitCodeInfo::default();
    match value {
        Node::Object(_)
            if ["description", "severity", "retry"]
                .iter()
                .any(|k| value.get(k).is_some()) =>
        {
            info.description =
                optional_localized(value.get("description"), &child(path, "description"), w);
            info.severity = optional_text(value.get("severity"), &child(path, "severity"), w);
            if let Some(retry) = value.get("retry") {
                info.retry = flag(retry, &child(path, "retry"), w);
            }
        }
        Node::Object(_) => {
            w.warn(
                path,
                WarningKind::Converted,
                "object without \"description\" read as the localized description",
            );
            info.description = localized(value, path, w);
        }
        Node::String(_) | Node::Number(_) => {
            w.warn(
                path,
                WarningKind::Converted,
                "bare text read as the description",
            );
            info.description = localized(value, path, &mut Warnings::default());
        }
        Node::Null => {}
        other => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "expected an object describing the exit code, found {}; left out",
                    other.type_name()
                ),
            );
            return None;
        }
    }
    Some(info)
}

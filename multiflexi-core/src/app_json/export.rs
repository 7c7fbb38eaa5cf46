//! `export_app`: an [`App`] → an application definition in the schema's modern shape.

use super::tree::Node;
use super::vocab::{SCHEMA_URL, SCHEMA_VERSION};
use crate::model::{App, ArtifactPattern, EnvFieldDef, EnvFieldType, ExitCodeInfo, LocalizedText};

/// The app as an application definition: `$schema`, `schemaVersion` 3.4.0, then the fields we
/// keep (`uuid`, `name`, `description`, `version`, `tags`, `requirements`, `homepage`,
/// `ociimage`, `executable`, `setup`, `cmdparams`, `environment`, `artifacts`, `exitCodes`).
///
/// Database state (id, timestamps, `enabled`) is not written. Text in one untagged language is
/// written as a string, several languages as an object. Defaults of `bool`, `integer` and
/// `float` fields are written as JSON booleans and numbers when that reads back to the same
/// text. A secret field that is not a `password` carries `"secret": true`.
///
/// [`parse_app`](super::parse_app) reads this back to an equal app (ids and timestamps aside).
/// `serde_json::Value` may reorder object keys (environment fields, options); use
/// [`export_app_pretty`] for a file, which keeps the app's order.
pub fn export_app(app: &App) -> serde_json::Value {
    document(app).to_value()
}

/// [`export_app`] as pretty-printed JSON text (ending with a newline), keys in the app's
/// order: ready to write to a `*.app.json` file.
///
/// ```
/// use multiflexi_core::app_json::{export_app_pretty, parse_app};
/// use multiflexi_core::model::{App, EnvFieldDef, EnvFieldType};
///
/// let app = App::new("Sleep", "sleep")
///     .with_cmdparams("{SECONDS}")
///     .with_field(EnvFieldDef::new("SECONDS", EnvFieldType::Integer).with_default("60"));
/// let text = export_app_pretty(&app);
/// assert!(text.contains(r#""defval": 60"#));
/// assert_eq!(parse_app(text.as_bytes()).unwrap().app, app);
/// ```
pub fn export_app_pretty(app: &App) -> String {
    let mut text = serde_json::to_string_pretty(&document(app))
        .expect("a JSON tree with string keys always serializes");
    text.push('\n');
    text
}

fn string(s: &str) -> Node {
    Node::String(s.to_owned())
}

fn document(app: &App) -> Node {
    let mut doc: Vec<(String, Node)> = Vec::new();
    let mut put = |key: &str, value: Node| doc.push((key.to_owned(), value));
    put("$schema", string(SCHEMA_URL));
    put("schemaVersion", string(SCHEMA_VERSION));
    if let Some(uuid) = &app.uuid {
        put("uuid", string(uuid));
    }
    put("name", localized(&app.name));
    put("description", localized(&app.description));
    if let Some(version) = &app.version {
        put("version", string(version));
    }
    put(
        "tags",
        Node::Array(app.tags.iter().map(|t| string(t)).collect()),
    );
    put(
        "requirements",
        Node::Array(app.requirements.iter().map(|r| string(r)).collect()),
    );
    if let Some(homepage) = &app.homepage {
        put("homepage", string(homepage));
    }
    if let Some(image) = &app.ociimage {
        put("ociimage", string(image));
    }
    put("executable", string(&app.executable));
    if let Some(setup) = &app.setup {
        put("setup", string(setup));
    }
    put("cmdparams", string(&app.cmdparams));
    put(
        "environment",
        Node::Object(
            app.environment
                .iter()
                .map(|f| (f.name.clone(), field(f)))
                .collect(),
        ),
    );
    if !app.artifacts.is_empty() {
        put(
            "artifacts",
            Node::Array(app.artifacts.iter().map(artifact).collect()),
        );
    }
    if !app.exit_codes.is_empty() {
        put(
            "exitCodes",
            Node::Object(
                app.exit_codes
                    .iter()
                    .map(|(code, info)| (code.to_string(), exit_code(info)))
                    .collect(),
            ),
        );
    }
    Node::Object(doc)
}

/// Untagged text as a string (`""` when there is none); otherwise an object, English first.
fn localized(t: &LocalizedText) -> Node {
    match t.0.len() {
        0 => string(""),
        1 if t.0.contains_key("") => string(&t.0[""]),
        _ => {
            let english = t.0.get_key_value("en");
            let rest = t.0.iter().filter(|(lang, _)| lang.as_str() != "en");
            Node::Object(
                english
                    .into_iter()
                    .chain(rest)
                    .map(|(lang, text)| (lang.clone(), string(text)))
                    .collect(),
            )
        }
    }
}

fn field(f: &EnvFieldDef) -> Node {
    let mut out = vec![
        ("type".to_owned(), string(f.kind.as_str())),
        ("description".to_owned(), localized(&f.description)),
    ];
    if !f.hint.0.is_empty() {
        out.push(("hint".to_owned(), localized(&f.hint)));
    }
    if let Some(default) = &f.default {
        out.push(("defval".to_owned(), default_value(f.kind, default)));
    }
    out.push(("required".to_owned(), Node::Bool(f.required)));
    if f.secret && f.kind != EnvFieldType::Password {
        out.push(("secret".to_owned(), Node::Bool(true)));
    }
    if !f.options.is_empty() {
        let options = if f.options.iter().all(|(value, label)| value == label) {
            Node::Array(f.options.iter().map(|(value, _)| string(value)).collect())
        } else {
            Node::Object(
                f.options
                    .iter()
                    .map(|(value, label)| (value.clone(), string(label)))
                    .collect(),
            )
        };
        out.push(("options".to_owned(), options));
    }
    Node::Object(out)
}

/// A typed JSON value when it reads back to exactly `text`, else the text.
fn default_value(kind: EnvFieldType, text: &str) -> Node {
    let number = || -> Option<serde_json::Number> {
        if let Ok(i) = text.parse::<i64>() {
            return Some(i.into());
        }
        if kind == EnvFieldType::Float {
            return text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64);
        }
        None
    };
    match (kind, text) {
        (EnvFieldType::Bool, "true") => Node::Bool(true),
        (EnvFieldType::Bool, "false") => Node::Bool(false),
        (EnvFieldType::Integer | EnvFieldType::Float, _) => match number() {
            Some(n) if n.to_string() == text => Node::Number(n),
            _ => string(text),
        },
        _ => string(text),
    }
}

fn artifact(a: &ArtifactPattern) -> Node {
    let mut out = vec![
        ("name".to_owned(), localized(&a.name)),
        ("path".to_owned(), string(&a.path)),
        ("type".to_owned(), string(&a.kind)),
    ];
    if !a.description.0.is_empty() {
        out.push(("description".to_owned(), localized(&a.description)));
    }
    Node::Object(out)
}

fn exit_code(info: &ExitCodeInfo) -> Node {
    let mut out = vec![("description".to_owned(), localized(&info.description))];
    if let Some(severity) = &info.severity {
        out.push(("severity".to_owned(), string(severity)));
    }
    out.push(("retry".to_owned(), Node::Bool(info.retry)));
    Node::Object(out)
}

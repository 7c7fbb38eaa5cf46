//! Lenient readers for the value shapes real app files use, each noting what it converted.

use super::report::{ImportWarning, WarningKind};
use super::tree::Node;
use crate::model::LocalizedText;

/// Collects import warnings.
#[derive(Debug, Default)]
pub(crate) struct Warnings(pub Vec<ImportWarning>);

impl Warnings {
    /// Notes one deviation at `path`.
    pub fn warn(&mut self, path: &str, kind: WarningKind, message: impl Into<String>) {
        self.0.push(ImportWarning {
            path: path.to_owned(),
            kind,
            message: message.into(),
        });
    }
}

/// `node` when it is present and not `null` (files use `null` for "not given").
pub(crate) fn given(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !matches!(n, Node::Null))
}

/// A boolean written as text or a number: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` in
/// any case, and `""` for false.
pub(crate) fn bool_from_text(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "n" | "" => Some(false),
        _ => None,
    }
}

/// A scalar as text: strings as written, numbers and booleans converted (with a warning).
/// `null` gives `None` quietly; arrays and objects give `None` with a warning.
pub(crate) fn text(node: &Node, path: &str, w: &mut Warnings) -> Option<String> {
    match node {
        Node::String(s) => Some(s.clone()),
        Node::Number(n) => {
            w.warn(
                path,
                WarningKind::Converted,
                format!("number {n} read as text"),
            );
            Some(n.to_string())
        }
        Node::Bool(b) => {
            w.warn(
                path,
                WarningKind::Converted,
                format!("boolean {b} read as text"),
            );
            Some(b.to_string())
        }
        Node::Null => None,
        other => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!("expected text, found {}; left out", other.type_name()),
            );
            None
        }
    }
}

/// Optional text where an empty string means "not given".
pub(crate) fn optional_text(node: Option<&Node>, path: &str, w: &mut Warnings) -> Option<String> {
    given(node)
        .and_then(|n| text(n, path, w))
        .filter(|s| !s.is_empty())
}

/// A flag: JSON booleans as they are; text and numbers (`"True"`, `"false"`, `""`, `1`)
/// converted with a warning; anything else is `false` with a warning. `null` is `false`.
pub(crate) fn flag(node: &Node, path: &str, w: &mut Warnings) -> bool {
    match node {
        Node::Bool(b) => *b,
        Node::Null => false,
        Node::String(s) => match bool_from_text(s) {
            Some(b) => {
                w.warn(
                    path,
                    WarningKind::Converted,
                    format!("text {s:?} read as {b}"),
                );
                b
            }
            None => {
                w.warn(
                    path,
                    WarningKind::Ignored,
                    format!("{s:?} is not a boolean; read as false"),
                );
                false
            }
        },
        Node::Number(n) => {
            let b = n.as_f64().is_some_and(|f| f != 0.0);
            w.warn(
                path,
                WarningKind::Converted,
                format!("number {n} read as {b}"),
            );
            b
        }
        other => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "expected a boolean, found {}; read as false",
                    other.type_name()
                ),
            );
            false
        }
    }
}

/// Text in one or several languages: a string (kept under `""`; empty means no text), or an
/// object of language → text (every language kept). Non-text entries are converted or left out
/// with a warning.
pub(crate) fn localized(node: &Node, path: &str, w: &mut Warnings) -> LocalizedText {
    let mut out = LocalizedText::default();
    match node {
        Node::String(s) if s.is_empty() => {}
        Node::Object(entries) => {
            for (lang, value) in entries {
                let p = super::tree::child(path, lang);
                if let Some(t) = text(value, &p, w) {
                    out.0.insert(lang.clone(), t);
                }
            }
        }
        Node::Array(_) => {
            w.warn(
                path,
                WarningKind::Ignored,
                "expected text or an object of language → text, found array; left out",
            );
        }
        scalar => {
            if let Some(t) = text(scalar, path, w).filter(|t| !t.is_empty()) {
                out = LocalizedText::plain(t);
            }
        }
    }
    out
}

/// Localized text of an optional key (missing or `null` is no text).
pub(crate) fn optional_localized(
    node: Option<&Node>,
    path: &str,
    w: &mut Warnings,
) -> LocalizedText {
    given(node)
        .map(|n| localized(n, path, w))
        .unwrap_or_default()
}

/// How a list was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListShape {
    /// A JSON array (or nothing).
    Array,
    /// Comma-separated text.
    CommaText,
}

/// A list of strings: an array (numbers converted, empty strings dropped) or comma-separated
/// text (items trimmed, empty ones dropped). The caller reports the comma shape.
pub(crate) fn list(node: &Node, path: &str, w: &mut Warnings) -> (Vec<String>, ListShape) {
    match node {
        Node::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let p = super::tree::child(path, &i.to_string());
                if let Some(s) = text(item, &p, w).filter(|s| !s.is_empty()) {
                    out.push(s);
                }
            }
            (out, ListShape::Array)
        }
        Node::String(s) => (split_commas(s), ListShape::CommaText),
        Node::Null => (Vec::new(), ListShape::Array),
        other => {
            w.warn(
                path,
                WarningKind::Ignored,
                format!(
                    "expected a list, found {}; read as an empty list",
                    other.type_name()
                ),
            );
            (Vec::new(), ListShape::Array)
        }
    }
}

/// `"a, b,,c"` → `["a", "b", "c"]`.
pub(crate) fn split_commas(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `"1 item"` / `"3 items"`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_from_text() {
        for (s, b) in [
            ("True", true),
            ("false", false),
            ("", false),
            ("1", true),
            (" OFF ", false),
        ] {
            assert_eq!(bool_from_text(s), Some(b), "{s:?}");
        }
        assert_eq!(bool_from_text("maybe"), None);
    }

    #[test]
    fn flags_warn_unless_json_booleans() {
        let mut w = Warnings::default();
        assert!(flag(&Node::Bool(true), "/a", &mut w));
        assert!(w.0.is_empty());
        assert!(flag(&Node::String("True".into()), "/a", &mut w));
        assert!(!flag(&Node::String(String::new()), "/b", &mut w));
        assert!(!flag(&Node::String("maybe".into()), "/c", &mut w));
        let kinds: Vec<_> = w.0.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            [
                WarningKind::Converted,
                WarningKind::Converted,
                WarningKind::Ignored
            ]
        );
    }

    #[test]
    fn comma_lists() {
        assert_eq!(
            split_commas("AbraFlexi, Benchmark"),
            ["AbraFlexi", "Benchmark"]
        );
        assert_eq!(split_commas(" a,,b ,"), ["a", "b"]);
        assert!(split_commas("").is_empty());
    }
}

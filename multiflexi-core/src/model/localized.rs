use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Text that MultiFlexi files give either as a plain string or as `{"en": …, "cs": …}`.
///
/// A plain string is kept under the empty language tag `""`, so export writes it back as a string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalizedText(pub BTreeMap<String, String>);

impl LocalizedText {
    /// Plain, untagged text.
    pub fn plain(text: impl Into<String>) -> Self {
        Self([(String::new(), text.into())].into())
    }

    /// The text in `lang`, else English, else the untagged text, else any language.
    pub fn get(&self, lang: &str) -> Option<&str> {
        self.0
            .get(lang)
            .or_else(|| self.0.get("en"))
            .or_else(|| self.0.get(""))
            .or_else(|| self.0.values().next())
            .map(String::as_str)
    }

    /// The English (or best available) text, empty when there is none.
    pub fn text(&self) -> &str {
        self.get("en").unwrap_or("")
    }

    /// Whether no language has any text.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|v| v.is_empty())
    }
}

impl From<&str> for LocalizedText {
    fn from(s: &str) -> Self {
        Self::plain(s)
    }
}

//! Names and enums of the application schema (MultiFlexi App Definition 3.4.0), shared by the
//! validator and the exporter.

/// The `$schema` URL written on export.
pub(crate) const SCHEMA_URL: &str = "https://raw.githubusercontent.com/VitexSoftware/php-vitexsoftware-multiflexi-core/refs/heads/main/schema/application.json";

/// The schema version whose rules [`validate`](super::validate) checks and export declares.
pub(crate) const SCHEMA_VERSION: &str = "3.4.0";

/// Language tags a localized object may use.
pub(crate) const LANGUAGES: [&str; 32] = [
    "en", "cs", "sk", "de", "fr", "es", "it", "pl", "nl", "pt", "sv", "fi", "da", "no", "hu", "ro",
    "bg", "el", "tr", "hr", "sl", "et", "lt", "lv", "ru", "uk", "ja", "zh", "ko", "ar", "he", "hi",
];

/// Allowed `category` of an environment field.
pub(crate) const FIELD_CATEGORIES: [&str; 5] = ["API", "Database", "Behavior", "Security", "Other"];

/// Allowed `severity` of an exit code.
pub(crate) const SEVERITIES: [&str; 5] = ["success", "info", "warning", "error", "critical"];

/// Allowed `format` of produced / consumed data.
pub(crate) const DATA_FORMATS: [&str; 5] = ["file", "json", "text", "url", "custom"];

/// Allowed `operation` of an emitted event.
pub(crate) const OPERATIONS: [&str; 4] = ["create", "update", "delete", "any"];

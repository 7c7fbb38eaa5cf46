//! Reading an environment field's `type`: the schema's names, and legacy spellings mapped to the
//! nearest schema type.

use crate::model::EnvFieldType;

/// How a `type` string was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeName {
    /// One of the schema's names, spelled exactly.
    Exact(EnvFieldType),
    /// A spelling outside the schema's enum with an obvious nearest type.
    Nearest(EnvFieldType),
    /// Nothing close: read as `string`.
    Unknown,
}

/// Understands a field type as written in a file.
pub(crate) fn read_type(raw: &str) -> TypeName {
    if let Some(t) = EnvFieldType::ALL.into_iter().find(|t| t.as_str() == raw) {
        return TypeName::Exact(t);
    }
    let lower = raw.trim().to_ascii_lowercase();
    let nearest = match lower.as_str() {
        "" | "string" | "str" => EnvFieldType::String,
        "text" | "textarea" => EnvFieldType::Text,
        "password" | "secret" => EnvFieldType::Password,
        "bool" | "boolean" | "checkbox" | "switch" => EnvFieldType::Bool,
        "int" | "integer" | "number" => EnvFieldType::Integer,
        "float" | "double" | "decimal" => EnvFieldType::Float,
        "set" | "select" | "enum" => EnvFieldType::Set,
        "email" | "e-mail" => EnvFieldType::Email,
        "url" | "uri" => EnvFieldType::Url,
        "file-path" | "filepath" | "file_path" | "file" | "directory" | "dir" | "path" => {
            EnvFieldType::FilePath
        }
        _ => return TypeName::Unknown,
    };
    TypeName::Nearest(nearest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_spellings_map_to_nearest() {
        assert_eq!(read_type("bool"), TypeName::Exact(EnvFieldType::Bool));
        assert_eq!(
            read_type("file-path"),
            TypeName::Exact(EnvFieldType::FilePath)
        );
        for (raw, t) in [
            ("boolean", EnvFieldType::Bool),
            ("checkbox", EnvFieldType::Bool),
            ("switch", EnvFieldType::Bool),
            ("int", EnvFieldType::Integer),
            ("number", EnvFieldType::Integer),
            ("select", EnvFieldType::Set),
            ("file", EnvFieldType::FilePath),
            ("directory", EnvFieldType::FilePath),
            ("", EnvFieldType::String),
            ("Bool", EnvFieldType::Bool),
        ] {
            assert_eq!(read_type(raw), TypeName::Nearest(t), "{raw}");
        }
        assert_eq!(read_type("colour"), TypeName::Unknown);
    }
}

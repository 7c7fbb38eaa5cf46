use super::{ContainerSecurity, LocalizedText};
use crate::ids::AppId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// An application: an executable (or container image) with its configuration fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct App {
    /// Database id (`AppId(0)` before it is stored).
    pub id: AppId,
    /// Stable identity across imports, when the file has one.
    pub uuid: Option<String>,
    /// Display name (possibly in several languages). Case matters: `Foo` and `foo` are two apps.
    pub name: LocalizedText,
    /// What it does.
    pub description: LocalizedText,
    /// Version string as the file gives it.
    pub version: Option<String>,
    /// The program to run (absolute path or a name looked up in PATH / in the image).
    pub executable: String,
    /// Argument template, split into argv before `{VAR}` substitution.
    pub cmdparams: String,
    /// Container image for Docker / Podman / Kubernetes.
    pub ociimage: Option<String>,
    /// Optional setup command (kept, not run by the engine).
    pub setup: Option<String>,
    /// Project homepage.
    pub homepage: Option<String>,
    /// Tags (`topics` in legacy files).
    pub tags: Vec<String>,
    /// Requirements (credential types it needs).
    pub requirements: Vec<String>,
    /// Configuration fields.
    pub environment: Vec<EnvFieldDef>,
    /// Result files the app writes into its work directory.
    pub artifacts: Vec<ArtifactPattern>,
    /// The app's own exit-code descriptions, layered over the standard table.
    pub exit_codes: BTreeMap<i32, ExitCodeInfo>,
    /// What it needs from a container sandbox (capabilities, read-only root file system).
    #[serde(default)]
    pub container: ContainerSecurity,
    /// Whether run templates may use it.
    pub enabled: bool,
    /// When it was first stored.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
}

impl App {
    /// A new, unsaved app running `executable`.
    pub fn new(name: impl Into<String>, executable: impl Into<String>) -> Self {
        Self {
            id: AppId(0),
            uuid: None,
            name: LocalizedText::plain(name.into()),
            description: LocalizedText::default(),
            version: None,
            executable: executable.into(),
            cmdparams: String::new(),
            ociimage: None,
            setup: None,
            homepage: None,
            tags: Vec::new(),
            requirements: Vec::new(),
            environment: Vec::new(),
            artifacts: Vec::new(),
            exit_codes: BTreeMap::new(),
            container: ContainerSecurity::default(),
            enabled: true,
            created: None,
            updated: None,
        }
    }

    /// Builder: sets `cmdparams`.
    pub fn with_cmdparams(mut self, cmdparams: impl Into<String>) -> Self {
        self.cmdparams = cmdparams.into();
        self
    }

    /// Builder: adds a configuration field.
    pub fn with_field(mut self, field: EnvFieldDef) -> Self {
        self.environment.push(field);
        self
    }

    /// Builder: sets the container image.
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.ociimage = Some(image.into());
        self
    }

    /// Builder: adds a result-file pattern.
    pub fn with_artifact(mut self, pattern: ArtifactPattern) -> Self {
        self.artifacts.push(pattern);
        self
    }

    /// The display name (English or best available).
    pub fn display_name(&self) -> &str {
        self.name.text()
    }

    /// The definition of field `name`.
    pub fn field(&self, name: &str) -> Option<&EnvFieldDef> {
        self.environment.iter().find(|f| f.name == name)
    }
}

/// The type of a configuration field (the schema's enum; legacy spellings map onto it on import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EnvFieldType {
    /// A single line of text.
    #[default]
    String,
    /// Multi-line text.
    Text,
    /// A secret.
    Password,
    /// A whole number.
    Integer,
    /// A floating-point number.
    Float,
    /// true / false.
    Bool,
    /// One of `options`.
    Set,
    /// An e-mail address.
    Email,
    /// A URL.
    Url,
    /// A path to a file or directory.
    FilePath,
}

impl EnvFieldType {
    /// Every type.
    pub const ALL: [EnvFieldType; 10] = [
        EnvFieldType::String,
        EnvFieldType::Text,
        EnvFieldType::Password,
        EnvFieldType::Integer,
        EnvFieldType::Float,
        EnvFieldType::Bool,
        EnvFieldType::Set,
        EnvFieldType::Email,
        EnvFieldType::Url,
        EnvFieldType::FilePath,
    ];

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvFieldType::String => "string",
            EnvFieldType::Text => "text",
            EnvFieldType::Password => "password",
            EnvFieldType::Integer => "integer",
            EnvFieldType::Float => "float",
            EnvFieldType::Bool => "bool",
            EnvFieldType::Set => "set",
            EnvFieldType::Email => "email",
            EnvFieldType::Url => "url",
            EnvFieldType::FilePath => "file-path",
        }
    }
}

impl fmt::Display for EnvFieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EnvFieldType {
    type Err = crate::Error;
    /// Exact schema names only; the importer maps legacy spellings first.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvFieldType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                crate::Error::invalid(
                    "type",
                    format!(
                        "{s:?} is not a field type; allowed: {}",
                        EnvFieldType::ALL.map(|t| t.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// One configuration field of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnvFieldDef {
    /// Variable name (case-sensitive).
    pub name: String,
    /// Its type.
    pub kind: EnvFieldType,
    /// Default value (`defval`), as text.
    pub default: Option<String>,
    /// Whether a job cannot run without it.
    pub required: bool,
    /// Whether it is a secret (password fields always are).
    pub secret: bool,
    /// What it means.
    pub description: LocalizedText,
    /// A hint for the form.
    pub hint: LocalizedText,
    /// Allowed values for `set` (value → label), in file order.
    pub options: Vec<(String, String)>,
}

impl EnvFieldDef {
    /// A field of type `kind`; password fields are secret.
    pub fn new(name: impl Into<String>, kind: EnvFieldType) -> Self {
        Self {
            name: name.into(),
            kind,
            default: None,
            required: false,
            secret: kind == EnvFieldType::Password,
            description: LocalizedText::default(),
            hint: LocalizedText::default(),
            options: Vec::new(),
        }
    }

    /// Builder: default value.
    pub fn with_default(mut self, v: impl Into<String>) -> Self {
        self.default = Some(v.into());
        self
    }

    /// Builder: required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Builder: secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// A result file the app writes (`artifacts` in the app JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArtifactPattern {
    /// Its name.
    pub name: LocalizedText,
    /// A path relative to the job's work directory; glob patterns (`*.json`) allowed.
    pub path: String,
    /// Declared type (`json`, `text/csv`, …).
    pub kind: String,
    /// What it holds.
    pub description: LocalizedText,
}

impl ArtifactPattern {
    /// A pattern named after its path.
    pub fn new(path: impl Into<String>, kind: impl Into<String>) -> Self {
        let path = path.into();
        Self {
            name: LocalizedText::plain(path.clone()),
            path,
            kind: kind.into(),
            description: LocalizedText::default(),
        }
    }
}

/// An app's own description of one exit code (`exitCodes` in the app JSON).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExitCodeInfo {
    /// What the code means for this app.
    pub description: LocalizedText,
    /// `success`, `warning`, `error`, `critical`, as the file gives it.
    pub severity: Option<String>,
    /// Whether a job ending with this code should be retried.
    pub retry: bool,
}

impl ExitCodeInfo {
    /// A description with a retry flag.
    pub fn new(description: impl Into<String>, retry: bool) -> Self {
        Self {
            description: LocalizedText::plain(description.into()),
            severity: None,
            retry,
        }
    }
}

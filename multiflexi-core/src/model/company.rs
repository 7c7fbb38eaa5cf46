use super::Environment;
use crate::Error;
use crate::ids::CompanyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A company (tenant) whose run templates run apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Company {
    /// Database id (`CompanyId(0)` before it is stored).
    pub id: CompanyId,
    /// Name (case-sensitive, unique).
    pub name: String,
    /// URL-safe short name (unique).
    pub slug: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// The Zabbix host its jobs report under.
    pub zabbix_host: Option<String>,
    /// Whether its templates run.
    pub enabled: bool,
    /// Company-wide environment (layer 2 of the precedence).
    pub environment: Environment,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
}

impl Company {
    /// A new, unsaved company; the slug is derived from the name.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            id: CompanyId(0),
            slug: slugify(&name),
            name,
            email: None,
            zabbix_host: None,
            enabled: true,
            environment: Environment::new(),
            created: None,
            updated: None,
        }
    }
}

impl Company {
    /// The name rule: not empty once trimmed, no NUL character. Returns the trimmed name.
    pub fn check_name(name: &str) -> crate::Result<String> {
        let n = name.trim();
        if n.is_empty() || n.contains('\0') {
            return Err(Error::invalid(
                "name",
                "the company name is empty or holds a NUL character; give a name",
            ));
        }
        Ok(n.to_string())
    }

    /// The slug rule: not empty, only lower-case ASCII letters, digits, `-` and `_`. Returns the
    /// trimmed slug.
    pub fn check_slug(slug: &str) -> crate::Result<String> {
        let s = slug.trim();
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(Error::invalid(
                "slug",
                format!("{slug:?} is not a slug; use lower-case letters, digits, - and _"),
            ));
        }
        Ok(s.to_string())
    }

    /// A new company from a name and an optional slug, both checked; without a slug one is
    /// derived from the name, and a name with no letter or digit to derive it from is refused.
    pub fn named(name: &str, slug: Option<&str>) -> crate::Result<Company> {
        let mut c = Company::new(Company::check_name(name)?);
        if let Some(slug) = slug {
            c.slug = Company::check_slug(slug)?;
        }
        if c.slug.is_empty() {
            return Err(Error::invalid(
                "slug",
                format!(
                    "no slug can be derived from {:?} (no letter or digit); give one",
                    c.name
                ),
            ));
        }
        Ok(c)
    }
}

/// Lower-case ASCII letters and digits, other runs replaced by `-`.
pub(crate) fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Company;

    #[test]
    fn names_and_slugs_are_checked() {
        assert_eq!(Company::named(" Acme ", None).unwrap().slug, "acme");
        assert_eq!(Company::named("Acme", Some("a_1")).unwrap().slug, "a_1");
        for (name, slug, field) in [
            ("  ", None, "name"),
            ("!!!", None, "slug"),
            ("Acme", Some("Acme"), "slug"),
            ("Acme", Some(""), "slug"),
            ("Acme", Some("a b"), "slug"),
        ] {
            match Company::named(name, slug) {
                Err(crate::Error::InvalidInput { field: f, message }) => {
                    assert_eq!(f, field, "{name:?} {slug:?}: {message}");
                }
                other => panic!("{name:?} {slug:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(super::slugify("Acme s.r.o."), "acme-s-r-o");
        assert_eq!(super::slugify("  Big  Co  "), "big-co");
    }
}

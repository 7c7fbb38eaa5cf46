use crate::{Error, Result};

/// Turns a result file's relative path into a safe artifact name: no directory traversal, no
/// absolute paths, no control characters. Sub-directories are kept as `dir/file`.
///
/// ```
/// use multiflexi_core::artifact::sanitize_name;
/// assert_eq!(sanitize_name("out/report.json").unwrap(), "out/report.json");
/// assert!(sanitize_name("../../etc/passwd").is_err());
/// ```
pub fn sanitize_name(name: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid("artifact name", format!("{name:?} {why}"));
    if name.is_empty() {
        return Err(bad("is empty"));
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Err(bad(
            "is absolute; artifact names are relative to the job's work directory",
        ));
    }
    let mut parts = Vec::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => continue,
            ".." => return Err(bad("leaves the job's work directory")),
            p => {
                let clean: String = p
                    .chars()
                    .map(|c| if c.is_control() { '_' } else { c })
                    .collect();
                parts.push(clean);
            }
        }
    }
    if parts.is_empty() {
        return Err(bad("names no file"));
    }
    let out = parts.join("/");
    if out.len() > 255 {
        return Err(bad("is longer than 255 bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_names_and_rejects_escapes() {
        assert_eq!(sanitize_name("report.json").unwrap(), "report.json");
        assert_eq!(sanitize_name("./a//b.txt").unwrap(), "a/b.txt");
        assert_eq!(sanitize_name("we\nird").unwrap(), "we_ird");
        for bad in ["", "/etc/passwd", "..", "a/../../b", "..\\x", ".", "\\abs"] {
            assert!(sanitize_name(bad).is_err(), "{bad:?}");
        }
    }
}

//! Artifact names: `artifact::sanitize_name` on a result file's relative path (the app decides
//! what files it writes). A name it accepts is relative, at most 255 bytes, has no `..`, `.` or
//! empty component and no control character, and sanitizes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::artifact::sanitize_name;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let name = match sanitize_name(path) {
        Ok(name) => name,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert!(!name.is_empty() && name.len() <= 255, "{name:?}");
    assert!(!name.starts_with('/') && !name.contains('\\'), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(
        name.split('/').all(|part| !matches!(part, "" | "." | "..")),
        "{name:?}"
    );
    assert_eq!(sanitize_name(&name).ok().as_deref(), Some(name.as_str()));
});

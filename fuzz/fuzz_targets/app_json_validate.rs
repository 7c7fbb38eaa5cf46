//! App JSON schema validation: `app_json::validate` on arbitrary bytes. Every violation it
//! reports carries a JSON Pointer (empty for the whole document, else starting with `/`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::app_json::validate;

fuzz_target!(|data: &[u8]| {
    for v in validate(data) {
        assert!(
            v.path.is_empty() || v.path.starts_with('/'),
            "not a JSON Pointer: {:?}",
            v.path
        );
        let _ = v.to_string();
    }
});

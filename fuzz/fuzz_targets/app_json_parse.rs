//! App JSON import: `app_json::parse_app` on arbitrary bytes, as an uploaded `*.app.json` reaches
//! it. An app it accepts must survive the documented round trip: `export_app_pretty` writes it
//! back and `parse_app` reads that to an equal app.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiflexi_core::app_json::{export_app, export_app_pretty, parse_app};

fuzz_target!(|data: &[u8]| {
    let imported = match parse_app(data) {
        Ok(imported) => imported,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for w in &imported.warnings {
        let _ = w.to_string();
    }
    let _ = export_app(&imported.app);
    let text = export_app_pretty(&imported.app);
    let again = match parse_app(text.as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("an exported app does not import again ({e}):\n{text}"),
    };
    assert_eq!(
        again.app, imported.app,
        "export then import changed the app:\n{text}"
    );
});

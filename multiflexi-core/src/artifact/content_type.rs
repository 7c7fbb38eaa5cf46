/// Detects a MIME type from the content's magic bytes (crate `infer`), else from the file
/// extension (crate `mime_guess`), else `text/plain` for valid UTF-8, else `application/octet-stream`.
pub fn detect_content_type(name: &str, head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    if let Some(mime) = mime_guess::from_path(name).first() {
        return mime.essence_str().to_string();
    }
    if std::str::from_utf8(head).is_ok() {
        "text/plain".into()
    } else {
        "application/octet-stream".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_then_extension() {
        assert_eq!(
            detect_content_type("x.bin", b"%PDF-1.7\n"),
            "application/pdf"
        );
        assert_eq!(
            detect_content_type("r.json", b"{\"a\":1}"),
            "application/json"
        );
        assert_eq!(detect_content_type("noext", b"hello"), "text/plain");
        assert_eq!(
            detect_content_type("noext", &[0xff, 0xfe, 0x00, 0x81]),
            "application/octet-stream"
        );
    }
}

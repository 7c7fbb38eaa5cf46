//! Bounded text copies of output for the job row.

/// A lossy UTF-8 copy of `bytes` of at most `max` bytes, cut at a character boundary.
///
/// Invalid UTF-8 becomes U+FFFD (as [`String::from_utf8_lossy`] does) and so does NUL, which
/// PostgreSQL text columns cannot hold. Only as much of `bytes` is read as the copy needs. A
/// character that does not fit whole is left out, never cut.
///
/// ```
/// use multiflexi_core::output::text_copy;
///
/// assert_eq!(text_copy(b"ok\xff\0", 100), "ok\u{FFFD}\u{FFFD}");
/// assert_eq!(text_copy("žluťoučký".as_bytes(), 5), "žlu"); // "ť" (2 bytes) does not fit in 5
/// ```
pub fn text_copy(bytes: &[u8], max: usize) -> String {
    const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;
    let mut out = String::with_capacity(max.min(bytes.len()));
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.contains('\0') && out.len() + valid.len() <= max {
            out.push_str(valid);
        } else {
            for c in valid.chars() {
                let c = if c == '\0' { REPLACEMENT } else { c };
                if out.len() + c.len_utf8() > max {
                    return out;
                }
                out.push(c);
            }
        }
        if !chunk.invalid().is_empty() {
            if out.len() + REPLACEMENT.len_utf8() > max {
                return out;
            }
            out.push(REPLACEMENT);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cuts_at_char_boundaries() {
        let s = "aé€😀"; // 1 + 2 + 3 + 4 bytes
        let cuts = [
            (0, ""),
            (1, "a"),
            (2, "a"),
            (3, "aé"),
            (5, "aé"),
            (6, "aé€"),
            (9, "aé€"),
            (10, s),
            (11, s),
        ];
        for (max, expected) in cuts {
            assert_eq!(text_copy(s.as_bytes(), max), expected, "max {max}");
        }
    }

    #[test]
    fn invalid_utf8_and_nul() {
        assert_eq!(text_copy(b"a\0b", 10), "a\u{FFFD}b");
        assert_eq!(text_copy(b"\xff\xfe", 10), "\u{FFFD}\u{FFFD}");
        assert_eq!(text_copy(b"\xff\xfe", 5), "\u{FFFD}");
        assert_eq!(text_copy(b"\xff", 2), "");
        // A truncated sequence at the end of the bytes (as the head of a capped stream may be).
        assert_eq!(text_copy(b"ok\xe2\x82", 10), "ok\u{FFFD}");
    }

    proptest! {
        #[test]
        fn bounded_prefix_of_the_lossy_text(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            max in 0usize..300,
        ) {
            let copy = text_copy(&bytes, max);
            prop_assert!(copy.len() <= max);
            prop_assert!(!copy.contains('\0'));
            let full = String::from_utf8_lossy(&bytes).replace('\0', "\u{FFFD}");
            prop_assert!(full.starts_with(&copy));
            if full.len() <= max {
                prop_assert_eq!(&copy, &full);
            } else {
                // Nothing more would fit: the next character is too long for the rest.
                let next = full[copy.len()..].chars().next().unwrap();
                prop_assert!(copy.len() + next.len_utf8() > max);
            }
        }
    }
}

//! Turning polled logs into output increments.
//!
//! ACI has no log stream: `GET …/containers/{c}/logs` answers the container's log so far as one
//! JSON string (`{"content": "…"}`), stdout and stderr interleaved, at most its last 4 MB, and
//! text (bytes that are not UTF-8 are not carried). [`LogCursor`] remembers how much was handed
//! on and the last bytes of it, and finds where the next answer continues; when the window has
//! moved past output that was never seen, that output is lost and the cursor says so.

/// How many trailing bytes of what was delivered are kept to find the continuation.
const TAIL: usize = 256;
/// A first answer at least this long may already miss its head (the API keeps "up to 4 MB").
pub const WINDOW_BYTES: usize = 4_000_000;

/// Where the next poll's content continues.
#[derive(Debug, Default)]
pub struct LogCursor {
    delivered: usize,
    tail: Vec<u8>,
}

/// What one poll adds.
#[derive(Debug, PartialEq, Eq)]
pub struct Increment<'a> {
    /// Output between what was seen and this answer's content was lost (the 4 MB window moved
    /// past it between two polls).
    pub gap: bool,
    /// The new bytes.
    pub bytes: &'a [u8],
}

impl LogCursor {
    /// The part of `content` (the whole log the API answered now) not handed on yet.
    pub fn advance<'a>(&mut self, content: &'a str) -> Increment<'a> {
        let b = content.as_bytes();
        let (start, gap) = if b.len() >= self.delivered && b[..self.delivered].ends_with(&self.tail)
        {
            (
                self.delivered,
                self.delivered == 0 && b.len() >= WINDOW_BYTES,
            )
        } else if let Some(pos) = rfind(b, &self.tail) {
            (pos + self.tail.len(), false)
        } else {
            (0, true)
        };
        self.delivered = b.len();
        self.tail = b[b.len().saturating_sub(TAIL)..].to_vec();
        Increment {
            gap,
            bytes: &b[start..],
        }
    }
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_log_yields_only_new_bytes() {
        let mut c = LogCursor::default();
        assert_eq!(c.advance("").bytes, b"");
        assert_eq!(c.advance("one\n").bytes, b"one\n");
        assert_eq!(c.advance("one\n").bytes, b"");
        let inc = c.advance("one\ntwo\n");
        assert_eq!(
            inc,
            Increment {
                gap: false,
                bytes: b"two\n"
            }
        );
    }

    #[test]
    fn moved_window_continues_after_the_overlap_or_says_output_was_lost() {
        let mut c = LogCursor::default();
        let first: String = (0..100).map(|i| format!("{i:04}")).collect();
        c.advance(&first);
        // The window dropped the head but still holds what was seen last.
        let second = format!("{}second", &first[100..]);
        let inc = c.advance(&second);
        assert_eq!(
            inc,
            Increment {
                gap: false,
                bytes: b"second"
            }
        );
        // Nothing of what was seen is left: a gap.
        let inc = c.advance("entirely new");
        assert_eq!(
            inc,
            Increment {
                gap: true,
                bytes: b"entirely new"
            }
        );
    }
}

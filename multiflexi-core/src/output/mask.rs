//! Streaming secret masking.

use std::fmt;

/// What a secret is replaced by.
pub const MASK: &[u8] = b"***";

/// Replaces secrets in a byte stream by `***`, also when a secret arrives split across chunks.
///
/// Semantics (identical to [`SecretMasker::mask`] on the concatenated stream, whatever the
/// chunking): scanning left to right, at each position the *longest* secret that starts there is
/// replaced and scanning resumes after it; replaced text is never scanned again. Bytes are
/// arbitrary (NUL and invalid UTF-8 included); empty and duplicate secrets are ignored.
///
/// [`push`](SecretMasker::push) writes everything that can no longer be part of a secret and holds
/// back only a tail that is still a proper prefix of some secret — at most `max_secret_len − 1`
/// bytes. [`finish`](SecretMasker::finish) flushes that tail at the end of the stream.
///
/// `Debug` shows how many secrets there are, never the secrets.
///
/// ```
/// use multiflexi_core::output::SecretMasker;
///
/// let mut m = SecretMasker::new(&["hunter2"]);
/// let mut out = Vec::new();
/// for byte in b"password: hunter2\n" {
///     m.push(&[*byte], &mut out);
/// }
/// m.finish(&mut out);
/// assert_eq!(out, b"password: ***\n");
/// ```
#[derive(Clone)]
pub struct SecretMasker {
    /// Distinct non-empty secrets, longest first.
    secrets: Vec<Vec<u8>>,
    /// Whether a byte starts some secret.
    first: [bool; 256],
    /// The longest secret's length (0 when there are none).
    max_len: usize,
    /// Bytes held back because they may start a secret.
    pending: Vec<u8>,
}

impl fmt::Debug for SecretMasker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretMasker")
            .field("secrets", &self.secrets.len())
            .field("max_len", &self.max_len)
            .field("held", &self.pending.len())
            .finish()
    }
}

impl SecretMasker {
    /// A masker for `secrets` (empty strings are ignored; overlapping secrets are fine).
    pub fn new(secrets: &[&str]) -> Self {
        Self::from_bytes(secrets.iter().map(|s| s.as_bytes()))
    }

    /// A masker for secrets given as raw bytes (empty ones are ignored).
    pub fn from_bytes<'s>(secrets: impl IntoIterator<Item = &'s [u8]>) -> Self {
        let mut list: Vec<Vec<u8>> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        // Longest first, so the first full match at a position is the longest one.
        list.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        list.dedup();
        let mut first = [false; 256];
        for s in &list {
            first[usize::from(s[0])] = true;
        }
        Self {
            max_len: list.first().map_or(0, Vec::len),
            secrets: list,
            first,
            pending: Vec::new(),
        }
    }

    /// Whether there is nothing to mask (every byte passes straight through).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// How many bytes are held back waiting for the next chunk (always `< max_secret_len`).
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    /// Masks the next chunk of the stream, appending to `out` every byte that is decided.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.secrets.is_empty() {
            out.extend_from_slice(input);
            return;
        }
        if self.pending.is_empty() {
            let done = self.scan(input, out, false);
            self.pending.extend_from_slice(&input[done..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(input);
            let done = self.scan(&data, out, false);
            data.drain(..done);
            self.pending = data;
        }
        debug_assert!(self.pending.len() < self.max_len.max(1));
    }

    /// Ends the stream: appends the held-back bytes (masked) to `out`. The masker can be reused.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let data = std::mem::take(&mut self.pending);
        let done = self.scan(&data, out, true);
        debug_assert_eq!(done, data.len());
    }

    /// Masks a whole buffer at once (the reference the streaming form agrees with). Does not touch
    /// the stream state.
    pub fn mask(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        self.scan(input, &mut out, true);
        out
    }

    /// Writes the decided part of `data` to `out`, masked; returns how many bytes were consumed.
    /// Unless `at_end`, stops at the first position whose outcome depends on bytes not seen yet.
    fn scan(&self, data: &[u8], out: &mut Vec<u8>, at_end: bool) -> usize {
        let mut i = 0;
        let mut copied = 0;
        while i < data.len() {
            if !self.first[usize::from(data[i])] {
                i += 1;
                continue;
            }
            let rest = &data[i..];
            if !at_end
                && rest.len() < self.max_len
                && self
                    .secrets
                    .iter()
                    .any(|s| s.len() > rest.len() && s.starts_with(rest))
            {
                // A longer secret may still complete here: wait for more bytes.
                break;
            }
            match self.secrets.iter().find(|s| rest.starts_with(s)) {
                Some(secret) => {
                    out.extend_from_slice(&data[copied..i]);
                    out.extend_from_slice(MASK);
                    i += secret.len();
                    copied = i;
                }
                None => i += 1,
            }
        }
        out.extend_from_slice(&data[copied..i]);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent, obviously-correct oracle: at each position take the longest secret that
    /// matches there.
    fn oracle(secrets: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let best = secrets
                .iter()
                .filter(|s| !s.is_empty() && input[i..].starts_with(s))
                .map(Vec::len)
                .max();
            match best {
                Some(n) => {
                    out.extend_from_slice(b"***");
                    i += n;
                }
                None => {
                    out.push(input[i]);
                    i += 1;
                }
            }
        }
        out
    }

    fn streamed(m: &mut SecretMasker, input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut start = 0;
        for &c in cuts {
            let end = (start + c).min(input.len());
            m.push(&input[start..end], &mut out);
            assert!(m.held() < m.max_len.max(1), "held {} bytes", m.held());
            start = end;
        }
        m.push(&input[start..], &mut out);
        m.finish(&mut out);
        out
    }

    fn one_byte_at_a_time(m: &mut SecretMasker, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in input {
            m.push(std::slice::from_ref(b), &mut out);
        }
        m.finish(&mut out);
        out
    }

    #[test]
    fn secret_split_one_byte_per_push() {
        let mut m = SecretMasker::new(&["s3cr3t-T0ken"]);
        let out = one_byte_at_a_time(&mut m, b"token=s3cr3t-T0ken; again s3cr3t-T0ken.");
        assert_eq!(out, b"token=***; again ***.");
    }

    #[test]
    fn split_across_two_chunks_at_every_position() {
        let secret = "correct horse";
        let text = format!("a {secret} b");
        let m0 = SecretMasker::new(&[secret]);
        for cut in 0..=text.len() {
            let mut m = m0.clone();
            let mut out = Vec::new();
            m.push(&text.as_bytes()[..cut], &mut out);
            m.push(&text.as_bytes()[cut..], &mut out);
            m.finish(&mut out);
            assert_eq!(out, b"a *** b", "cut at {cut}");
        }
    }

    #[test]
    fn overlapping_secrets_longest_first() {
        let m = SecretMasker::new(&["ab", "abcd", "", "ab"]);
        assert_eq!(m.mask(b"abcd ab abc"), b"*** *** ***c");
        let mut m2 = m.clone();
        assert_eq!(one_byte_at_a_time(&mut m2, b"abcd ab abc"), b"*** *** ***c");
        // A prefix of a longer secret that never completes is released at the end.
        let mut m3 = m.clone();
        assert_eq!(one_byte_at_a_time(&mut m3, b"xabc"), b"x***c");
    }

    #[test]
    fn binary_and_invalid_utf8() {
        let secret = "p\u{e1}ss"; // multi-byte char inside the secret
        let m = SecretMasker::new(&[secret]);
        let mut input = vec![0u8, 0xff, 0xfe];
        input.extend_from_slice(secret.as_bytes());
        input.extend_from_slice(&[0, 0xc3]); // a truncated UTF-8 sequence
        input.extend_from_slice(&secret.as_bytes()[..2]); // the secret's start, cut inside 'á'
        let mut m1 = m.clone();
        let out = one_byte_at_a_time(&mut m1, &input);
        let mut expected = vec![0u8, 0xff, 0xfe];
        expected.extend_from_slice(b"***");
        expected.extend_from_slice(&[0, 0xc3]);
        expected.extend_from_slice(&secret.as_bytes()[..2]);
        assert_eq!(out, expected);
    }

    #[test]
    fn no_secrets_pass_through() {
        let mut m = SecretMasker::new(&["", ""]);
        assert!(m.is_empty());
        let mut out = Vec::new();
        m.push(b"anything\0", &mut out);
        assert_eq!(m.held(), 0);
        m.finish(&mut out);
        assert_eq!(out, b"anything\0");
    }

    #[test]
    fn reusable_after_finish_and_debug_hides_secrets() {
        let mut m = SecretMasker::new(&["topsecret"]);
        let mut out = Vec::new();
        m.push(b"topsec", &mut out);
        assert_eq!(m.held(), 6);
        m.finish(&mut out);
        assert_eq!(out, b"topsec");
        assert_eq!(one_byte_at_a_time(&mut m, b"topsecret"), b"***");
        assert!(!format!("{m:?}").contains("topsecret"));
    }

    fn bytes_from(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Output equals non-streaming replacement of the concatenation, for any chunking.
        #[test]
        fn streaming_equals_whole_buffer(
            secrets in proptest::collection::vec(bytes_from(b"ab\0\xff", 6), 0..5),
            input in bytes_from(b"ab\0\xffc", 200),
            cuts in proptest::collection::vec(0usize..12, 0..40),
        ) {
            let mut m = SecretMasker::from_bytes(secrets.iter().map(Vec::as_slice));
            let expected = oracle(&secrets, &input);
            prop_assert_eq!(&m.mask(&input), &expected);
            prop_assert_eq!(&streamed(&mut m, &input, &cuts), &expected);
            prop_assert_eq!(&one_byte_at_a_time(&mut m, &input), &expected);
        }

        #[test]
        fn arbitrary_bytes_and_str_secrets(
            secrets in proptest::collection::vec("[a-c\u{e1}]{0,5}", 0..4),
            input in proptest::collection::vec(
                prop_oneof![any::<u8>(), proptest::sample::select(&b"abc\xc3\xa1"[..])],
                0..300,
            ),
            cuts in proptest::collection::vec(0usize..20, 0..30),
        ) {
            let strs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let mut m = SecretMasker::new(&strs);
            let owned: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
            let expected = oracle(&owned, &input);
            prop_assert_eq!(&streamed(&mut m, &input, &cuts), &expected);
        }
    }
}

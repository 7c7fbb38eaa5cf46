//! Per-stream output cap keeping head and tail.

use std::fmt;

/// Caps one output stream at `cap_bytes`, keeping its head and its tail.
///
/// The first ⌊cap/2⌋ bytes are the *head*, the last ⌈cap/2⌉ bytes the *tail* (a ring buffer):
/// memory stays within `cap_bytes` however much is pushed. Output that fits in `cap_bytes` is kept
/// whole. When bytes were dropped, [`finish`](CappedOutput::finish) returns
/// head + `\n[multiflexi: N bytes omitted]\n` + tail, N being exactly the number of dropped bytes.
///
/// ```
/// use multiflexi_core::output::CappedOutput;
///
/// let mut c = CappedOutput::new(8);
/// assert_eq!(c.push(b"0123456789"), 4); // the first 4 bytes went into the head
/// assert!(c.is_truncated());
/// assert_eq!(c.finish(), b"0123\n[multiflexi: 2 bytes omitted]\n6789");
/// ```
#[derive(Clone)]
pub struct CappedOutput {
    head_cap: usize,
    tail_cap: usize,
    head: Vec<u8>,
    /// The tail as a ring: oldest byte at `start` once it is full.
    ring: Vec<u8>,
    start: usize,
    total: u64,
}

impl fmt::Debug for CappedOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CappedOutput")
            .field("cap", &(self.head_cap + self.tail_cap))
            .field("total", &self.total)
            .field("head", &self.head.len())
            .field("tail", &self.ring.len())
            .finish()
    }
}

impl CappedOutput {
    /// A cap of `cap_bytes` (head ⌊cap/2⌋, tail ⌈cap/2⌉).
    pub fn new(cap_bytes: usize) -> Self {
        let head_cap = cap_bytes / 2;
        Self {
            head_cap,
            tail_cap: cap_bytes - head_cap,
            head: Vec::new(),
            ring: Vec::new(),
            start: 0,
            total: 0,
        }
    }

    /// Appends `bytes`; returns how many of its *leading* bytes went into the head (the part the
    /// engine writes to the live output log). The rest goes to the tail, dropping the oldest tail
    /// bytes beyond the cap.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        self.total += bytes.len() as u64;
        let to_head = bytes.len().min(self.head_cap - self.head.len());
        if to_head > 0 {
            if self.head.capacity() == 0 {
                self.head.reserve_exact(self.head_cap);
            }
            self.head.extend_from_slice(&bytes[..to_head]);
        }
        self.push_tail(&bytes[to_head..]);
        to_head
    }

    fn push_tail(&mut self, mut rest: &[u8]) {
        let cap = self.tail_cap;
        if rest.is_empty() || cap == 0 {
            return;
        }
        if self.ring.capacity() == 0 {
            self.ring.reserve_exact(cap);
        }
        if rest.len() >= cap {
            self.ring.clear();
            self.ring.extend_from_slice(&rest[rest.len() - cap..]);
            self.start = 0;
            return;
        }
        if self.ring.len() < cap {
            // Still filling: the ring is in order and `start` is 0.
            let k = rest.len().min(cap - self.ring.len());
            self.ring.extend_from_slice(&rest[..k]);
            rest = &rest[k..];
        }
        while !rest.is_empty() {
            let k = rest.len().min(cap - self.start);
            self.ring[self.start..self.start + k].copy_from_slice(&rest[..k]);
            self.start = (self.start + k) % cap;
            rest = &rest[k..];
        }
    }

    /// Bytes pushed so far (kept or not).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes dropped so far (the N of the marker).
    pub fn omitted(&self) -> u64 {
        self.total - (self.head.len() + self.ring.len()) as u64
    }

    /// Whether any byte was dropped.
    pub fn is_truncated(&self) -> bool {
        self.omitted() > 0
    }

    /// The kept content: everything when nothing was dropped, else head + marker + tail.
    pub fn finish(self) -> Vec<u8> {
        let omitted = self.omitted();
        let marker = if omitted > 0 {
            marker(omitted)
        } else {
            String::new()
        };
        let mut out = self.head;
        out.reserve_exact(marker.len() + self.ring.len());
        out.extend_from_slice(marker.as_bytes());
        out.extend_from_slice(&self.ring[self.start..]);
        out.extend_from_slice(&self.ring[..self.start]);
        out
    }
}

/// The marker put between head and tail when `omitted` bytes were dropped.
pub fn marker(omitted: u64) -> String {
    format!("\n[multiflexi: {omitted} bytes omitted]\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The expected result, computed from the whole stream.
    fn expected(all: &[u8], cap: usize) -> Vec<u8> {
        if all.len() <= cap {
            return all.to_vec();
        }
        let (h, t) = (cap / 2, cap - cap / 2);
        let mut out = all[..h].to_vec();
        out.extend_from_slice(marker((all.len() - h - t) as u64).as_bytes());
        out.extend_from_slice(&all[all.len() - t..]);
        out
    }

    /// A deterministic, non-periodic byte stream (so misplaced bytes show up).
    fn stream(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn ten_megabytes_through_64_kib() {
        let cap = 64 * 1024;
        let all = stream(10 * 1024 * 1024 + 12_345);
        let mut c = CappedOutput::new(cap);
        let mut head_bytes = 0;
        let mut offset = 0;
        for (i, chunk) in all.chunks(4093).enumerate() {
            let n = c.push(chunk);
            // Only the leading bytes of a chunk go to the head, and only until it is full.
            assert_eq!(n, chunk.len().min(cap / 2 - head_bytes), "chunk {i}");
            head_bytes += n;
            offset += chunk.len();
            assert!(c.head.len() + c.ring.len() <= cap);
            assert!(c.head.capacity() + c.ring.capacity() <= cap + 64);
        }
        assert_eq!(offset, all.len());
        assert_eq!(head_bytes, cap / 2);
        assert_eq!(c.total(), all.len() as u64);
        assert!(c.is_truncated());
        let omitted = all.len() - cap;
        assert_eq!(c.omitted(), omitted as u64);
        let out = c.finish();
        let marker = format!("\n[multiflexi: {omitted} bytes omitted]\n");
        assert_eq!(&out[..cap / 2], &all[..cap / 2]);
        assert_eq!(&out[cap / 2..cap / 2 + marker.len()], marker.as_bytes());
        assert_eq!(&out[cap / 2 + marker.len()..], &all[all.len() - cap / 2..]);
        assert_eq!(out.len(), cap + marker.len());
    }

    #[test]
    fn exact_fit_and_off_by_one() {
        for cap in [0usize, 1, 2, 7, 8, 64] {
            for len in [
                0,
                1,
                cap.saturating_sub(1),
                cap,
                cap + 1,
                cap + 2,
                3 * cap + 1,
            ] {
                let all = stream(len);
                for chunk in [1, 3, len.max(1)] {
                    let mut c = CappedOutput::new(cap);
                    let mut head = Vec::new();
                    for piece in all.chunks(chunk) {
                        let n = c.push(piece);
                        head.extend_from_slice(&piece[..n]);
                    }
                    assert_eq!(head, all[..len.min(cap / 2)]);
                    assert_eq!(c.is_truncated(), len > cap, "cap {cap} len {len}");
                    assert_eq!(
                        c.finish(),
                        expected(&all, cap),
                        "cap {cap} len {len} chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn exact_fit_has_no_marker_one_more_byte_has_one() {
        let mut c = CappedOutput::new(10);
        c.push(b"0123456789");
        assert!(!c.is_truncated());
        assert_eq!(c.finish(), b"0123456789");

        let mut c = CappedOutput::new(10);
        c.push(b"0123456789A");
        assert_eq!(c.omitted(), 1);
        assert_eq!(c.finish(), b"01234\n[multiflexi: 1 bytes omitted]\n6789A");
    }

    #[test]
    fn odd_cap_uses_every_byte() {
        let mut c = CappedOutput::new(5);
        assert_eq!(c.push(b"abcde"), 2);
        assert!(!c.is_truncated());
        assert_eq!(c.finish(), b"abcde");
    }

    #[test]
    fn binary_is_kept() {
        let mut c = CappedOutput::new(4);
        c.push(&[0, 0xff]);
        c.push(&[0xfe, 0, 1, 2]);
        assert_eq!(
            c.finish(),
            b"\0\xff\n[multiflexi: 2 bytes omitted]\n\x01\x02"
        );
    }

    proptest! {
        #[test]
        fn any_chunking_matches_the_whole_stream(
            cap in 0usize..40,
            all in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(0usize..50, 0..20),
        ) {
            let mut c = CappedOutput::new(cap);
            let mut head = Vec::new();
            let mut start: usize = 0;
            for cut in cuts.iter().copied().chain([usize::MAX]) {
                let end = start.saturating_add(cut).min(all.len());
                let n = c.push(&all[start..end]);
                head.extend_from_slice(&all[start..start + n]);
                start = end;
            }
            prop_assert_eq!(&head[..], &all[..all.len().min(cap / 2)]);
            prop_assert_eq!(c.total(), all.len() as u64);
            prop_assert_eq!(c.finish(), expected(&all, cap));
        }
    }
}

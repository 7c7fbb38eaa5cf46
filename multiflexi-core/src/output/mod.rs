//! The pure parts of the engine's output path (ARCHITECTURE §4, §8).
//!
//! Per stream (stdout, stderr), raw bytes as they arrive go through:
//!
//! 1. [`SecretMasker`] — secrets become `***`, also when a secret is split across chunks;
//! 2. [`CappedOutput`] — the stream is capped, keeping head and tail with an explicit marker;
//!    [`CappedOutput::push`] says how many leading bytes went into the head, which the engine
//!    writes to the live `OutputLog`;
//! 3. at completion, [`SecretMasker::finish`] flushes into the cap, [`CappedOutput::finish`]
//!    gives the bytes of `stdout.txt` / `stderr.txt` (bytes, never text: NUL and invalid UTF-8
//!    are preserved), and [`text_copy`] the bounded lossy text kept on the job row.
//!
//! ```
//! use multiflexi_core::output::{CappedOutput, SecretMasker, text_copy};
//!
//! let mut masker = SecretMasker::new(&["hunter2"]);
//! let mut cap = CappedOutput::new(64 * 1024);
//! let mut live_log = Vec::new();
//! let mut masked = Vec::new();
//! for chunk in [&b"login ok, password hun"[..], b"ter2\n\0done\n"] {
//!     masked.clear();
//!     masker.push(chunk, &mut masked);
//!     let n = cap.push(&masked);
//!     live_log.extend_from_slice(&masked[..n]);
//! }
//! masked.clear();
//! masker.finish(&mut masked);
//! let n = cap.push(&masked);
//! live_log.extend_from_slice(&masked[..n]);
//!
//! let artifact = cap.finish();
//! assert_eq!(artifact, b"login ok, password ***\n\0done\n");
//! assert_eq!(live_log, artifact);
//! assert_eq!(text_copy(&artifact, 1000), "login ok, password ***\n\u{FFFD}done\n");
//! ```

mod cap;
mod mask;
mod text;

pub use cap::{CappedOutput, marker};
pub use mask::{MASK, SecretMasker};
pub use text::text_copy;

//! The allocator of every multiflexi binary (and of this crate's tests): mimalloc. The engine
//! and the stores allocate and free many small, short-lived buffers per job (rows, statements,
//! job records); with glibc's malloc a fifth of the load benchmark's own CPU went to `malloc`,
//! `free` and their consolidation, and mimalloc gave 18–34 % more worked jobs/s on PostgreSQL
//! and 4–10 % on SQLite (docs/benchmarks.md, session 13). The load benchmark sets the same one
//! (`benches/src/bin/loadbench.rs`), so its figures are the daemons'.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! The allocator of every multiflexi binary (and of this crate's tests): mimalloc. The engine
//! and the stores allocate and free many small, short-lived buffers per job (rows, statements,
//! job records); with glibc's malloc 28 % of the load benchmark's samples were in `malloc`,
//! `free` and their consolidation. With the `no_thp` build used here the benchmark worked 11–23 %
//! more jobs/s on PostgreSQL and 12–18 % on SQLite, run for run (docs/benchmarks.md, session 13). The load benchmark sets the same one
//! (`benches/src/bin/loadbench.rs`), so its figures are the daemons'.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

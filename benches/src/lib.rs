//! Benchmarks of multiflexi: criterion micro-benchmarks (`benches/`) and the end-to-end load
//! benchmark `multiflexi-loadbench` (see [`load`]).

pub mod load;
pub mod noop;

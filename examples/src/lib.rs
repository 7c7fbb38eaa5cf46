//! Example programs embedding multiflexi-core live under `examples/examples/`.

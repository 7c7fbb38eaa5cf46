//! Example programs embedding multiflexi-core: see `src/bin/`.

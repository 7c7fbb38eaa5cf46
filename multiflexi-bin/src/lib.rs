//! Shared modules of the multiflexi binaries.

//! Executors for multiflexi (see issue: executors). Empty until they land.

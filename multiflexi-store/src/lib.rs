//! SQL store for multiflexi (see issue: store). Empty until the store lands.

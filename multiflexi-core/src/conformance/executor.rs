//! Executor conformance cases (filled by the executors work).

//! Store conformance cases (filled by the InMemoryStore work).

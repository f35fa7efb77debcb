//! Cross-crate integration tests of volley, over real loopback sockets: the tests live in
//! `tests/tests/`; this library is empty.
//!
//! - `fault_matrix.rs`: the default client against every fault of
//!   `volley_testserver::fault`, for GET, POST and POST with an `Idempotency-Key`; its
//!   figures are the table in `docs/reliability.md`.

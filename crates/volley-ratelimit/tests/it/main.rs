//! Integration tests of volley-ratelimit, on paused tokio time.

mod backend;
mod common;
mod config;
mod cooldown;
mod cooldown_cap;
mod fail_fast;
mod gcra;
// The in-memory event and metric capture volley-limit's tests use: one copy for both
// limiters (a test-only module; the packaged library does not include it).
#[path = "../../../volley-limit/tests/support/obs.rs"]
mod obs_support;
mod observe;
mod pace;
mod prune;
mod service;

//! Integration tests of volley-ratelimit, on paused tokio time.

mod backend;
mod common;
mod cooldown;
mod fail_fast;
mod gcra;
mod prune;
mod service;

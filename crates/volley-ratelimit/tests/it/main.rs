//! Integration tests of volley-ratelimit, on paused tokio time.

mod backend;
mod common;
mod config;
mod cooldown;
mod cooldown_cap;
mod fail_fast;
mod gcra;
mod obs_support;
mod observe;
mod pace;
mod prune;
mod service;

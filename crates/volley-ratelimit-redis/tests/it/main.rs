//! The Redis backend against a real `redis-server` on a loopback port, started per test.

mod common;
mod cooldown;
mod faults;
mod gcra;

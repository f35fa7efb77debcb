//! volley-timeout's tests: the real hyper-util client against the loopback test server for
//! end-to-end timing, `service_fn` fakes for exact frame timings, `tower-test` for readiness.
//! All run on paused time, so elapsed times are virtual and exact.

mod attempt;
mod body_idle;
mod common;
mod config;
mod errors;
mod passthrough;
mod total;

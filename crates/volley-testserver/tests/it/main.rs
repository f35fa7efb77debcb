//! End-to-end tests: a real hyper-util client against the server over loopback.

mod common;

mod auth;
mod bodies;
mod echo;
mod faults;
mod lifecycle;
mod throttle;

//! End-to-end tests: a real hyper-util client against the server over loopback.

mod common;

mod auth;
mod bodies;
mod cookies;
mod echo;
mod encoded;
mod faults;
mod lifecycle;
mod load;
mod record;
mod redirects;
mod throttle;

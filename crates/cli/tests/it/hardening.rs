//! Hardening: the real `sfconn` binary against the simulated org under every fault,
//! with broken input, and with known secrets that must never leak.
//!
//! - `faults`: the fault matrix (stage × fault → exit code, message, complete data or
//!   untouched output), connection resets, SIGINT, oversized responses.
//! - `bad_input`: broken config files, environment values, flags and company names.
//! - `disk`: output, snapshot store and rotated token file on a full or read-only disk (exit 74).
//! - `secrets`: every command at the highest verbosity through its failure paths, checked for
//!   leaked secrets in output, files and request URLs.

mod bad_input;
mod common;
mod disk;
mod faults;
mod secrets;

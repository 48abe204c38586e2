//! The test kit's own tests: the simulated org over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: panicking is failing

mod bulk;
mod org;

//! Settings loading over real files in temporary directories and injected environments.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: panicking is failing

mod settings;

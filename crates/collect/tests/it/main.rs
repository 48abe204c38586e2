//! The connector's integration tests: the run against the simulated org on 127.0.0.1, the output
//! formats, cancellation and network faults.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: panicking is failing

mod cancel;
mod common;
mod csv_cells;
mod formats;
mod run;
mod transport;
mod unused;

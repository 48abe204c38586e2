//! HTTP behaviour of sfconn-api against wiremock servers on 127.0.0.1 (never a real host).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bulk;
mod common;
mod concurrency;
mod describe;
mod errors;
mod limits;
mod locator;
mod queries;
mod records;
mod retries;
mod session;
mod size;
mod streaming;
mod versions;

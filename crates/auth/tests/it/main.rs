//! HTTP behaviour of sfconn-auth against wiremock servers on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod errors;
mod flows;
mod refresh;
mod retries;
mod secrets;
mod server_flows;
mod simulated_org;

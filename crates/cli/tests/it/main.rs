//! The real `sfconn` binary, run in a sandbox (empty environment, temporary HOME and XDG
//! directories) against simulated orgs on 127.0.0.1 and the store's test snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: panicking is failing

mod auth_cli;
mod collect;
mod common;
mod config_cli;
mod cross_org_cli;
mod fleet_cli;
mod hardening;
mod history_cli;
mod html_cli;
mod kubernetes_pod;
mod login_activity_cli;
mod store_pg_cli;
mod unused_cli;

//! The snapshot store's integration tests: storing, diff, report, the HTML page (with and
//! without a browser) and the whole path from a simulated org to a report.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: panicking is failing

mod backends;
mod common;
mod cross_org;
mod diff;
mod end_to_end;
mod html;
mod html_browser;
mod html_support;
mod migration_2;
mod migration_3;
mod migration_4;
mod money;
mod report;
mod report_classes;
mod store;
mod unused_assignments;

//! Salesforce REST (contract §2, §6, §7): version discovery, SOQL queries as paged streams,
//! describe, limits, error decoding and the retry policy.
//!
//! Owns: every request to the instance URL and its classification into typed errors.
//! Must not: read settings files or the environment, or obtain tokens itself (that is `auth`).

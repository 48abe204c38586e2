//! Secrets (filled in below).

//! sfconn settings (contract §2): the typed [`Settings`], where each value came from, and
//! validation that names the key.
//!
//! Owns: the settings schema, defaults < config file < environment < flags, the config-file
//! lookup, reading secret files, and every read of the process environment.
//! Must not: touch the network or print anything; callers decide what to show.

//! Company-name filter (contract §4): decides which users a snapshot keeps.
//!
//! Owns: parsing company names into a [`CompanyFilter`] that is either everyone or a set of
//! domains, and matching an optional email against it.
//! Must not: do any I/O, read the environment, or know about Salesforce.

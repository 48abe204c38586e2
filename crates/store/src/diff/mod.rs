//! `sfconn history diff`: what changed between two stored snapshots of one org.
//!
//! Computing and rendering are apart, as for the report: [`Store::diff`](crate::Store::diff)
//! (`read`: the SQL, `compute`: comparing subscriptions) builds a [`Diff`] (`model`: plain,
//! serialisable data), and each format renders that model and nothing else (`table`, and
//! `-f json` below).

mod compute;
mod model;
mod read;
mod table;

use std::io::Write;

pub use model::{AssignmentChange, Diff, SubscriptionChange, UserChange};

use crate::{StoreError, render};

impl Diff {
    /// `-f json`.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), StoreError> {
        render::json("diff", self, out)
    }
}

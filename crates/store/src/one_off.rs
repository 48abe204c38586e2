//! `sfconn collect -f html`: the HTML report of one snapshot that is in no store. The snapshot
//! file is imported into a new store in a scratch directory (the same import as
//! `collect --store`), and the report computed and rendered from there, so its figures are
//! those `sfconn report -f json` gives for the same snapshot, by construction.

use std::path::Path;

use crate::{HtmlOptions, ReportOptions, Selector, Store, StoreError};

/// The HTML report of the snapshot file `snapshot` (as `collect -f json` writes it), using a
/// store created in `scratch` (an empty directory the caller removes).
pub fn snapshot_file_html(
    snapshot: &Path,
    scratch: &Path,
    report_options: &ReportOptions,
    options: HtmlOptions<'_>,
) -> Result<Vec<u8>, StoreError> {
    let mut store = Store::open(&scratch.join("one-off.db"))?;
    let id = store.import_file(snapshot)?;
    let info = store.resolve(&Selector::Id(id.0), None)?;
    let report = store.report(&info, report_options)?;
    let context = store.report_context(&report)?;
    let mut html = Vec::new();
    report.write_html(&context, options, &mut html)?;
    Ok(html)
}

//! Progress bars on stderr for `sfconn collect`: one line per source with the records read so
//! far of Salesforce's `totalSize`. Shown only when stderr is a terminal (the caller decides).

use std::collections::BTreeMap;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sfconn_collect::{Progress, SOURCES, SourceStatus};

/// One bar per source of [`SOURCES`], in that order.
pub(crate) struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<&'static str, ProgressBar>,
}

const RUNNING: &str = "{prefix:>27} [{bar:30}] {human_pos:>9}/{human_len:<9} {msg}";
const DONE: &str = "{prefix:>27} {msg}";

impl Bars {
    /// Bars drawn on stderr.
    pub(crate) fn on_stderr() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let running = ProgressStyle::with_template(RUNNING)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bars = SOURCES
            .iter()
            .map(|&source| {
                let bar = multi.add(ProgressBar::new(0).with_style(running.clone()));
                bar.set_prefix(source);
                bar.set_message("waiting");
                (source, bar)
            })
            .collect();
        Self { multi, bars }
    }

    /// The bars, for the logger to print around.
    pub(crate) fn multi(&self) -> &MultiProgress {
        &self.multi
    }

    /// Removes the bars from the screen (before the warnings and the summary are printed).
    pub(crate) fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Progress for Bars {
    fn advanced(&self, source: &str, done: u64, total: u64) {
        if let Some(bar) = self.bars.get(source) {
            // totalSize is what Salesforce counted when the query started; rows added since
            // can make `done` run past it.
            bar.set_length(total.max(done));
            bar.set_position(done);
            bar.set_message("");
        }
    }

    fn finished(&self, source: &str, status: SourceStatus) {
        if let Some(bar) = self.bars.get(source) {
            let done = ProgressStyle::with_template(DONE).unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(done);
            match status {
                SourceStatus::Read { records } => bar.finish_with_message(format!("{records} records")),
                SourceStatus::Skipped => bar.finish_with_message("skipped (not readable)"),
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid() {
        assert!(ProgressStyle::with_template(RUNNING).is_ok());
        assert!(ProgressStyle::with_template(DONE).is_ok());
    }

    #[test]
    fn bars_follow_the_sources() {
        let bars = Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            bars: SOURCES.iter().map(|&s| (s, ProgressBar::hidden())).collect(),
        };
        bars.advanced("User", 2000, 5000);
        assert_eq!(bars.bars["User"].position(), 2000);
        assert_eq!(bars.bars["User"].length(), Some(5000));
        // More rows than totalSize announced: the bar grows rather than overflowing.
        bars.advanced("User", 5002, 5000);
        assert_eq!(bars.bars["User"].length(), Some(5002));
        bars.finished("PackageLicense", SourceStatus::Skipped);
        assert!(bars.bars["PackageLicense"].is_finished());
        assert_eq!(bars.bars["PackageLicense"].message(), "skipped (not readable)");
        bars.finished("Profile", SourceStatus::Read { records: 12 });
        assert_eq!(bars.bars["Profile"].message(), "12 records");
        // Unknown sources are ignored rather than panicking.
        bars.advanced("Nothing", 1, 1);
    }
}

//! Progress bars on stderr for `sfconn collect`: one line per source with the records read so
//! far of Salesforce's `totalSize`. Shown only when stderr is a terminal (the caller decides).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sfconn_collect::{Progress, SOURCES, SourceStatus};

/// One bar per source of [`SOURCES`], in that order.
pub(crate) struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<&'static str, Bar>,
    running: ProgressStyle,
}

/// One source's line: text only until the first page arrives, then a bar.
struct Bar {
    bar: ProgressBar,
    started: AtomicBool,
}

/// A source being read: records so far of `totalSize`. The bar takes the terminal's width.
const RUNNING: &str = "{prefix:>26} [{wide_bar}] {human_pos:>9}/{human_len:<9}";
/// A source waiting, done or skipped: its name and a word.
const TEXT: &str = "{prefix:>26} {msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Bars {
    /// Bars drawn on stderr.
    pub(crate) fn on_stderr() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let bars = SOURCES
            .iter()
            .map(|&source| {
                let bar = multi.add(ProgressBar::new(0).with_style(style(TEXT)));
                bar.set_prefix(source);
                bar.set_message("waiting");
                (source, Bar { bar, started: AtomicBool::new(false) })
            })
            .collect();
        Self { multi, bars, running: style(RUNNING).progress_chars("=> ") }
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
        if let Some(Bar { bar, started }) = self.bars.get(source) {
            if !started.swap(true, Ordering::Relaxed) {
                bar.set_style(self.running.clone());
            }
            // totalSize is what Salesforce counted when the query started; rows added since
            // can make `done` run past it.
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    }

    fn finished(&self, source: &str, status: SourceStatus) {
        if let Some(Bar { bar, started }) = self.bars.get(source) {
            started.store(true, Ordering::Relaxed);
            bar.set_style(style(TEXT));
            let was_finished = bar.is_finished();
            match status {
                SourceStatus::Read { records } => bar.finish_with_message(format!("{records} records")),
                SourceStatus::Skipped => bar.finish_with_message("skipped (not readable)"),
            }
            // Every source read: the output comes next, possibly on the same terminal (a
            // table on stdout), so the bars leave the screen now rather than redraw over it.
            if !was_finished && self.bars.values().all(|b| b.bar.is_finished()) {
                self.clear();
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
        assert!(ProgressStyle::with_template(TEXT).is_ok());
    }

    #[test]
    fn bars_follow_the_sources() {
        let bars = Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            bars: SOURCES
                .iter()
                .map(|&s| (s, Bar { bar: ProgressBar::hidden(), started: AtomicBool::new(false) }))
                .collect(),
            running: style(RUNNING),
        };
        bars.advanced("User", 2000, 5000);
        assert!(bars.bars["User"].started.load(Ordering::Relaxed));
        assert_eq!(bars.bars["User"].bar.position(), 2000);
        assert_eq!(bars.bars["User"].bar.length(), Some(5000));
        // More rows than totalSize announced: the bar grows rather than overflowing.
        bars.advanced("User", 5002, 5000);
        assert_eq!(bars.bars["User"].bar.length(), Some(5002));
        bars.finished("PackageLicense", SourceStatus::Skipped);
        assert!(bars.bars["PackageLicense"].bar.is_finished());
        assert_eq!(bars.bars["PackageLicense"].bar.message(), "skipped (not readable)");
        bars.finished("Profile", SourceStatus::Read { records: 12 });
        assert_eq!(bars.bars["Profile"].bar.message(), "12 records");
        for source in SOURCES {
            bars.finished(source, SourceStatus::Read { records: 1 });
        }
        assert!(bars.bars.values().all(|b| b.bar.is_finished()));
        // Unknown sources are ignored rather than panicking.
        bars.advanced("Nothing", 1, 1);
    }
}

//! The report's charts as inline SVG: seats used against seats bought, utilisation over time
//! and counts. Every chart has a `<title>` (its text alternative, named by `aria-labelledby`),
//! writes its numbers as text next to the marks, and never tells things apart by colour alone:
//! free seats are hatched, over-assigned seats cross-hatched behind a marker at the seats
//! bought, and each line of a time chart has its own dash pattern and marker shape. Colours
//! come from CSS classes (the page's light and dark palettes); the hatch patterns are the
//! [`DEFS`] the page writes once.

use super::escape::{self, fmt};

/// Width of every chart's coordinate system (the SVG scales to the page).
const WIDTH: f64 = 960.0;
/// Where a bar chart's labels end and its bars start, and how long a full bar is.
const BAR_X: f64 = 330.0;
const BAR_LEN: f64 = 380.0;
const ROW: f64 = 28.0;
/// Characters of a label shown in a chart; the full text is in the row's `<title>` and the
/// table under the chart.
const LABEL_CHARS: usize = 40;

/// Patterns and markers the charts refer to, written once near the top of the page.
pub(crate) const DEFS: &str = r#"<svg class="defs" aria-hidden="true" width="0" height="0"><defs><pattern id="p-free" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="free-bg" width="6" height="6"/><line class="free-line" x1="0" y1="0" x2="0" y2="6" stroke-width="2"/></pattern><pattern id="p-over" width="6" height="6" patternUnits="userSpaceOnUse"><rect class="over-bg" width="6" height="6"/><path class="over-line" d="M0,0L6,6M6,0L0,6" stroke-width="1.5"/></pattern></defs></svg>"#;

/// One subscription's bar: seats used against seats bought.
pub(crate) struct SeatBar<'a> {
    pub label: &'a str,
    pub used: i64,
    pub total: i64,
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)] // seat counts are far below 2^52
    let r = part as f64 / whole as f64;
    r
}

/// Opens an `<svg>` of `height` with its title.
fn open(out: &mut String, id: &str, height: f64, title: &str) {
    fmt(
        out,
        format_args!(
            r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-labelledby="{id}-t"><title id="{id}-t">{}</title>"#,
            escape::text(title)
        ),
    );
}

/// What a seat bar's numbers say.
pub(crate) fn seat_words(used: i64, total: i64) -> String {
    if used > total {
        format!("{used} of {total} used, over by {}", used - total)
    } else {
        format!("{used} of {total} used, {} free", total - used)
    }
}

/// A horizontal bar per subscription: the used part solid, the free part hatched, seats over
/// the number bought cross-hatched after a marker at the seats bought. Each bar is scaled to
/// its own subscription (the larger of used and bought fills the bar), so small and large
/// pools read alike; the numbers are written beside every bar.
pub(crate) fn seat_bars(out: &mut String, id: &str, title: &str, bars: &[SeatBar<'_>]) {
    #[allow(clippy::cast_precision_loss)]
    let height = ROW * bars.len() as f64 + 8.0;
    open(out, id, height, title);
    for (row, bar) in bars.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = ROW * row as f64 + 4.0;
        let scale = bar.total.max(bar.used).max(1);
        let used_len = BAR_LEN * ratio(bar.used.min(bar.total).max(0), scale);
        let total_len = BAR_LEN * ratio(bar.total.max(0), scale);
        let words = seat_words(bar.used, bar.total);
        fmt(
            out,
            format_args!(
                r#"<g class="bar"><title>{}: {words}</title><text class="label" x="0" y="{:.1}">{}</text>"#,
                escape::text(bar.label),
                y + 15.0,
                escape::truncated(bar.label, LABEL_CHARS)
            ),
        );
        fmt(
            out,
            format_args!(
                r#"<rect class="used" x="{BAR_X}" y="{y:.1}" width="{used_len:.1}" height="20"/><rect class="free" x="{:.1}" y="{y:.1}" width="{:.1}" height="20"/>"#,
                BAR_X + used_len,
                (total_len - used_len).max(0.0)
            ),
        );
        if bar.used > bar.total {
            let over_len = BAR_LEN - total_len;
            fmt(
                out,
                format_args!(
                    r#"<rect class="over" x="{:.1}" y="{y:.1}" width="{over_len:.1}" height="20"/><line class="limit" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                    BAR_X + total_len,
                    y - 3.0,
                    y + 23.0,
                    x = BAR_X + total_len,
                ),
            );
        }
        fmt(
            out,
            format_args!(
                r#"<rect class="frame" x="{BAR_X}" y="{y:.1}" width="{BAR_LEN}" height="20"/><text class="value" x="{:.1}" y="{:.1}">{words}</text></g>"#,
                BAR_X + BAR_LEN + 10.0,
                y + 15.0
            ),
        );
    }
    out.push_str("</svg>");
}

/// A horizontal bar per count, all on one scale, the count written beside each.
pub(crate) fn count_bars(out: &mut String, id: &str, title: &str, counts: &[(&str, i64)]) {
    #[allow(clippy::cast_precision_loss)]
    let height = ROW * counts.len() as f64 + 8.0;
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    open(out, id, height, title);
    for (row, (label, count)) in counts.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = ROW * row as f64 + 4.0;
        let len = BAR_LEN * ratio(*count, max);
        fmt(
            out,
            format_args!(
                r#"<g class="bar"><title>{}: {count}</title><text class="label" x="0" y="{:.1}">{}</text><rect class="used" x="{BAR_X}" y="{y:.1}" width="{len:.1}" height="20"/><text class="value" x="{:.1}" y="{:.1}">{count}</text></g>"#,
                escape::text(label),
                y + 15.0,
                escape::truncated(label, LABEL_CHARS),
                BAR_X + len + 8.0,
                y + 15.0
            ),
        );
    }
    out.push_str("</svg>");
}

/// One line of a time chart: a value in percent per date (by index into the dates), or none.
pub(crate) struct Line<'a> {
    pub label: &'a str,
    pub values: Vec<Option<f64>>,
}

/// Dash patterns and marker shapes of the lines, in order; the 9th line starts again.
const STYLES: usize = 8;

/// The marker of line `number`: its colour and dash pattern's class, and a shape that changes
/// when the styles start again, so lines 1 and 9 still differ.
fn marker(out: &mut String, number: usize, x: f64, y: f64) {
    let class = format!("m s{}", number % STYLES);
    match (number + number / STYLES) % 4 {
        0 => fmt(out, format_args!(r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="3.5"/>"#)),
        1 => fmt(
            out,
            format_args!(
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="7" height="7"/>"#,
                x - 3.5,
                y - 3.5
            ),
        ),
        2 => fmt(
            out,
            format_args!(
                r#"<path class="{class}" d="M{x:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z"/>"#,
                y - 4.5,
                x + 4.5,
                y + 3.5,
                x - 4.5,
                y + 3.5
            ),
        ),
        _ => fmt(
            out,
            format_args!(
                r#"<path class="{class}" d="M{x:.1},{:.1}L{:.1},{y:.1}L{x:.1},{:.1}L{:.1},{y:.1}Z"/>"#,
                y - 4.5,
                x + 4.5,
                y + 4.5,
                x - 4.5
            ),
        ),
    }
}

/// Utilisation in percent over time: dates on the x axis (at most 8 labelled), 0 % to at least
/// 100 % on the y axis, a line per series with its own dash pattern and marker shape, and a
/// legend that repeats the marker beside each name.
pub(crate) fn utilisation_lines(out: &mut String, id: &str, title: &str, dates: &[&str], lines: &[Line<'_>]) {
    let (left, right, top, bottom): (f64, f64, f64, f64) = (56.0, 700.0, 16.0, 296.0);
    let legend_rows = lines.len();
    #[allow(clippy::cast_precision_loss)]
    let height = (bottom + 40.0).max(top + 22.0 * legend_rows as f64 + 10.0);
    let highest = lines.iter().flat_map(|l| l.values.iter().flatten()).fold(100.0_f64, |a, b| a.max(*b));
    let y_max = (highest / 25.0).ceil() * 25.0;
    #[allow(clippy::cast_precision_loss)]
    let step = if dates.len() > 1 { (right - left) / (dates.len() - 1) as f64 } else { 0.0 };
    #[allow(clippy::cast_precision_loss)]
    let x_of = |index: usize| left + step * index as f64;
    let y_of = |percent: f64| bottom - (bottom - top) * percent / y_max;
    open(out, id, height, title);
    let mut tick = 0.0;
    while tick <= y_max {
        let y = y_of(tick);
        fmt(
            out,
            format_args!(
                r#"<line class="grid" x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{tick:.0}%</text>"#,
                left - 6.0,
                y + 4.0
            ),
        );
        tick += 25.0;
    }
    let every = dates.len().div_ceil(8).max(1);
    for (index, date) in dates.iter().enumerate() {
        if index % every == 0 || index + 1 == dates.len() {
            fmt(
                out,
                format_args!(
                    r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    x_of(index),
                    bottom + 18.0,
                    escape::text(date.get(..10).unwrap_or(date))
                ),
            );
        }
    }
    for (number, line) in lines.iter().enumerate() {
        let style = number % STYLES;
        fmt(out, format_args!(r#"<g class="series"><title>{}</title>"#, escape::text(line.label)));
        let points: Vec<(f64, f64)> = line
            .values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| value.map(|v| (x_of(index), y_of(v))))
            .collect();
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        fmt(out, format_args!(r#"<polyline class="line s{style}" points="{}"/>"#, path.join(" ")));
        for (x, y) in &points {
            marker(out, number, *x, *y);
        }
        #[allow(clippy::cast_precision_loss)]
        let legend_y = top + 22.0 * number as f64 + 6.0;
        fmt(
            out,
            format_args!(
                r#"<line class="line s{style}" x1="{:.1}" x2="{:.1}" y1="{legend_y:.1}" y2="{legend_y:.1}"/>"#,
                right + 20.0,
                right + 50.0
            ),
        );
        marker(out, number, right + 35.0, legend_y);
        fmt(
            out,
            format_args!(
                r#"<text class="label" x="{:.1}" y="{:.1}">{}</text></g>"#,
                right + 58.0,
                legend_y + 4.0,
                escape::truncated(line.label, 24)
            ),
        );
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_assigned_bar_marks_the_seats_bought_and_says_by_how_much() {
        let mut out = String::new();
        seat_bars(&mut out, "c", "Seats", &[SeatBar { label: "Sales", used: 12, total: 10 }]);
        assert!(out.contains(r#"class="over""#), "{out}");
        assert!(out.contains(r#"class="limit""#), "{out}");
        assert!(out.contains("12 of 10 used, over by 2"), "{out}");
        // The bar is scaled to the 12 used: 10 bought end at 10/12 of it.
        assert!(out.contains(r#"<rect class="free" x="646.7" y="4.0" width="0.0""#), "{out}");
    }

    #[test]
    fn a_bar_with_free_seats_has_no_over_part() {
        let mut out = String::new();
        seat_bars(&mut out, "c", "Seats", &[SeatBar { label: "<b>", used: 3, total: 4 }]);
        assert!(!out.contains(r#"class="over""#), "{out}");
        assert!(out.contains("3 of 4 used, 1 free"), "{out}");
        assert!(out.contains("&lt;b&gt;") && !out.contains("<b>"), "{out}");
    }

    #[test]
    fn lines_skip_missing_values_and_the_axis_reaches_the_highest_value() {
        let mut out = String::new();
        let lines = [Line { label: "A", values: vec![Some(50.0), None, Some(120.0)] }];
        utilisation_lines(
            &mut out,
            "t",
            "Over time",
            &["2024-06-01T08:00:00Z", "2024-06-08", "2024-06-15"],
            &lines,
        );
        assert!(out.contains(">125%<"), "{out}");
        assert!(!out.contains(">150%<"), "{out}");
        let polyline = out.split("<polyline").nth(1).unwrap();
        let points = polyline.split('"').nth(3).unwrap();
        assert_eq!(points.split(' ').count(), 2, "{points}");
        assert!(out.contains(">2024-06-01<"), "{out}");
    }
}

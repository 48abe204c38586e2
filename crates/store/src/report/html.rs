//! `sfconn report -f html`: the report as one self-contained page for people: charts (inline
//! SVG) with the table of their numbers underneath, readable with JavaScript off, printable,
//! light and dark. It renders [`Report`] (the same figures as `-f json`) and [`ReportContext`]
//! (the snapshot's details and seat history) and nothing else. Every value from the org is
//! escaped by `crate::html::escape`. docs/report.md ("HTML report") describes the page.
//!
//! The page is built as one org's sections after the header; a fleet report (`--all-orgs`,
//! once named orgs exist) is the same page with a fleet overview first and [`org_sections`]
//! once per org.

use std::io::Write;

use super::model::{ReclaimClass, Report, ReportContext, SubscriptionUse};
use crate::html::escape::{self, fmt};
use crate::html::svg::{self, Line, SeatBar};
use crate::html::{self, Cell, TableWriter, num};
use crate::{StoreError, SubscriptionSource, render};

/// Reclaim candidates listed in the page; the rest are counted ("and N more"). `-f json` and
/// `-f csv` list them all.
pub const HTML_MAX_CANDIDATES: usize = 500;
/// Email domains listed in the page's table (the chart shows the first [`DOMAINS_CHARTED`]).
pub const HTML_MAX_DOMAINS: usize = 200;
const DOMAINS_CHARTED: usize = 15;

/// What the page says about itself.
#[derive(Debug, Clone, Copy)]
pub struct HtmlOptions<'a> {
    /// The version of sfconn writing the page (shown in the header).
    pub sfconn_version: &'a str,
}

const SOURCES: [(SubscriptionSource, &str); 3] = [
    (SubscriptionSource::UserLicense, "User licences"),
    (SubscriptionSource::PermissionSetLicense, "Permission set licences"),
    (SubscriptionSource::PackageLicense, "Package licences"),
];

fn display_name(sub: &SubscriptionUse) -> &str {
    sub.label.as_deref().unwrap_or(&sub.name)
}

/// Seats bought, or `unlimited` for a site licence.
fn total_cell(sub: &SubscriptionUse) -> Cell<'static> {
    if sub.unlimited {
        Cell::Num { field: "total", value: Some("unlimited".to_owned()) }
    } else {
        num("total", sub.total)
    }
}

fn percent(value: Option<f64>) -> Option<String> {
    value.map(|v| format!("{v:.1}"))
}

impl Report {
    /// `-f html`: the report as one self-contained HTML page.
    pub fn write_html(
        &self,
        context: &ReportContext,
        options: HtmlOptions<'_>,
        out: &mut dyn Write,
    ) -> Result<(), StoreError> {
        let mut page = String::with_capacity(64 * 1024);
        html::open_page(&mut page, &format!("Licence report: {}", self.snapshot.org_name));
        org_sections(&mut page, self, context, options);
        html::close_page(&mut page);
        render::write("report", || out.write_all(page.as_bytes()))
    }
}

/// One org's part of the page: its header, then a section per topic.
pub(crate) fn org_sections(
    out: &mut String,
    report: &Report,
    context: &ReportContext,
    options: HtmlOptions<'_>,
) {
    header(out, report, context, options);
    warnings(out, context);
    money(out, report);
    seats(out, report);
    history(out, context);
    candidates(out, report);
    unused_assignments(out, report);
    out.push_str("</section>\n");
    login_activity(out, report);
    third_party(out, report);
    api_cost(out, context);
}

fn fact(out: &mut String, term: &str, value: &str) {
    fmt(out, format_args!("<dt>{}</dt><dd>{}</dd>", escape::text(term), escape::text(value)));
}

fn header(out: &mut String, report: &Report, context: &ReportContext, options: HtmlOptions<'_>) {
    let s = &report.snapshot;
    fmt(
        out,
        format_args!(
            "<header>\n<h1>Licence report: {}</h1>\n<dl class=\"facts\">",
            escape::text(&s.org_name)
        ),
    );
    fact(out, "Organization Id", &s.org_id);
    fact(out, "Edition", context.edition.as_deref().unwrap_or("unknown"));
    fact(out, "Environment", if s.is_sandbox { "sandbox" } else { "production" });
    if let Some(instance) = &context.instance_name {
        fact(out, "Instance", instance);
    }
    fact(out, "Snapshot", &format!("{} collected {} by {}", s.id, s.collected_at, context.collected_by));
    let filter = if s.filter_all {
        "everyone (company names `*`)".to_owned()
    } else {
        format!("users of {}", s.company_names.join(", "))
    };
    fact(out, "Company filter", &filter);
    fact(
        out,
        "Reclaim window",
        &format!("no login since {} ({} days)", report.inactive_before, report.inactive_days),
    );
    let activity = &report.login_activity;
    let activity_fact = match (activity.collected(), activity.days) {
        (true, Some(days)) => {
            format!(
                "{days} days before the snapshot; fewer than {} logins is low activity",
                report.min_logins
            )
        }
        _ => "none in this snapshot: low activity is not computed".to_owned(),
    };
    fact(out, "Login activity", &activity_fact);
    fact(out, "Written by", &format!("sfconn {}", options.sfconn_version));
    out.push_str("</dl>\n<nav aria-label=\"Sections\"><ul><li><a href=\"#warnings\">Warnings</a></li><li><a href=\"#money\">Money</a></li><li><a href=\"#seats\">Seats</a></li><li><a href=\"#history\">Over time</a></li><li><a href=\"#reclaim\">Reclaim candidates</a></li><li><a href=\"#activity\">Login activity</a></li><li><a href=\"#third-party\">Third parties</a></li><li><a href=\"#api\">API cost</a></li></ul></nav>\n</header>\n");
}

fn warnings(out: &mut String, context: &ReportContext) {
    fmt(
        out,
        format_args!(
            "<section id=\"warnings\" class=\"first warnings\">\n<h2>Warnings ({})</h2>\n",
            context.warnings.len()
        ),
    );
    if context.warnings.is_empty() {
        out.push_str("<p>The run that collected this snapshot gave no warnings.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for warning in &context.warnings {
            fmt(out, format_args!("<li><code>{}</code>", escape::text(&warning.code)));
            if let Some(source) = &warning.source {
                fmt(out, format_args!(" <strong>{}</strong>", escape::text(source)));
            }
            fmt(out, format_args!(": {}</li>\n", escape::text(&warning.message)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// The money view: the headline, and with prices each priced subscription's amounts.
fn money(out: &mut String, report: &Report) {
    let money = &report.money;
    fmt(
        out,
        format_args!(
            "<section id=\"money\">\n<h2>Money</h2>\n<p class=\"headline\">{}</p>\n",
            escape::text(&money.headline())
        ),
    );
    let Some(currency) = &money.currency else {
        out.push_str("</section>\n");
        return;
    };
    let priced: Vec<&SubscriptionUse> =
        report.subscriptions.iter().filter(|s| s.price_per_seat.is_some()).collect();
    if priced.is_empty() {
        out.push_str("<p>No subscription of this snapshot is named in the prices.</p>\n</section>\n");
        return;
    }
    fmt(
        out,
        format_args!(
            "<p>Amounts in {}, per seat per month as priced; a year is 12 months. Seats bought cost {} {} a month.</p>\n",
            escape::text(currency),
            money.bought_monthly.unwrap_or_default(),
            escape::text(currency)
        ),
    );
    let mut table = TableWriter::open(
        out,
        &format!("Priced subscriptions, in {currency}"),
        &[
            "Name",
            "Source",
            "#Price per seat",
            "#Bought",
            "#Included",
            "#Bought per month",
            "#Used",
            "#Reclaimable",
            "#Reclaimable per month",
            "#Reclaimable per year",
        ],
        true,
    );
    for sub in priced {
        table.row(
            Some(&sub.id),
            &[
                Cell::Text(display_name(sub)),
                Cell::Text(sub.source.as_str()),
                num("price_per_seat", sub.price_per_seat),
                total_cell(sub),
                num("included_seats", sub.included_seats),
                num("bought_monthly", sub.bought_monthly),
                num("used", sub.used),
                num("reclaimable", Some(sub.reclaimable)),
                num("reclaimable_monthly", sub.reclaimable_monthly),
                num("reclaimable_yearly", sub.reclaimable_yearly),
            ],
        );
    }
    table.close();
    out.push_str("</section>\n");
}

fn seats(out: &mut String, report: &Report) {
    fmt(
        out,
        format_args!(
            "<section id=\"seats\">\n<h2>Seats used and bought</h2>\n<p>Each bar is one subscription, scaled to itself: the solid part is seats used, the hatched part seats free; seats used beyond the number bought are cross-hatched after a marker at the number bought. {} subscriptions; {} over-assigned.</p>\n",
            report.subscriptions.len(),
            report.over_assigned.len()
        ),
    );
    for (source, title) in SOURCES {
        let subs: Vec<&SubscriptionUse> =
            report.subscriptions.iter().filter(|s| s.source == source).collect();
        let id = source.as_str();
        fmt(out, format_args!("<h3 id=\"{id}\">{title} ({})</h3>\n", subs.len()));
        if subs.is_empty() {
            out.push_str("<p>None in this snapshot.</p>\n");
            continue;
        }
        let bars: Vec<SeatBar<'_>> = subs
            .iter()
            .filter_map(|s| match (s.total, s.used) {
                (Some(total), Some(used)) if !s.unlimited && (total > 0 || used > 0) => {
                    Some(SeatBar { label: display_name(s), used, total })
                }
                _ => None,
            })
            .collect();
        if bars.is_empty() {
            out.push_str("<p>None of them has a seat limit with seats bought or used: see the table.</p>\n");
        } else {
            svg::seat_bars(out, &format!("chart-{id}"), &format!("{title}: seats used and bought"), &bars);
        }
        let mut table = TableWriter::open(
            out,
            &format!("{title}: the numbers of the chart"),
            &[
                "Name",
                "Status",
                "#Bought",
                "#Used",
                "#Free",
                "#Utilisation %",
                "Paid",
                "#Reclaimable",
                "#Frozen",
                "#Low activity",
                "#Unused assigned",
            ],
            true,
        );
        for sub in subs {
            table.row(
                Some(&sub.id),
                &[
                    Cell::Text(display_name(sub)),
                    Cell::Text(sub.status.as_deref().unwrap_or("-")),
                    total_cell(sub),
                    num("used", sub.used),
                    num("free", sub.free),
                    num("utilisation_percent", percent(sub.utilisation_percent)),
                    Cell::Text(if sub.paid { "yes" } else { "no" }),
                    num("reclaimable", Some(sub.reclaimable)),
                    num("frozen_seats", sub.frozen_seats),
                    num("low_activity_seats", sub.low_activity_seats),
                    num("unused_assignment_seats", sub.unused_assignment_seats),
                ],
            );
        }
        table.close();
    }
    out.push_str("<h3 id=\"over-assigned\">Over-assigned</h3>\n");
    if report.over_assigned.is_empty() {
        out.push_str("<p>No subscription has more seats used than bought.</p>\n");
    } else {
        let mut table = TableWriter::open(
            out,
            "Subscriptions with more seats used than bought",
            &["Source", "Name", "#Bought", "#Used", "#Over by"],
            false,
        );
        for over in &report.over_assigned {
            table.row(
                Some(&over.id),
                &[
                    Cell::Text(over.source.as_str()),
                    Cell::Text(&over.name),
                    num("total", Some(over.total)),
                    num("used", Some(over.used)),
                    num("over_by", Some(over.over_by)),
                ],
            );
        }
        table.close();
    }
    feature_licences(out, report);
    out.push_str("</section>\n");
}

fn feature_licences(out: &mut String, report: &Report) {
    out.push_str("<h3 id=\"feature-licences\">Feature licences</h3>\n");
    let Some(licences) = &report.feature_licences else {
        out.push_str("<p>This snapshot does not list the org's feature licences (it was collected before sfconn read them).</p>\n");
        return;
    };
    if licences.is_empty() {
        out.push_str("<p>The org has no feature licence that sfconn could see.</p>\n");
        return;
    }
    let mut table = TableWriter::open(
        out,
        "Feature licences (User checkboxes): seats used and bought",
        &["Name", "Label", "#Used", "#Bought"],
        false,
    );
    for licence in licences {
        table.row(
            Some(&licence.name),
            &[
                Cell::Text(&licence.name),
                Cell::Text(licence.label.as_deref().unwrap_or("")),
                num("used", Some(licence.used)),
                Cell::Num {
                    field: "total",
                    value: Some(licence.total.map_or_else(|| "unknown".to_owned(), |t| t.to_string())),
                },
            ],
        );
    }
    table.close();
}

fn utilisation(used: Option<i64>, total: Option<i64>) -> Option<f64> {
    let (used, total) = (used?, total?);
    #[allow(clippy::cast_precision_loss)] // seat counts are far below 2^52
    (total > 0).then(|| used as f64 * 100.0 / total as f64)
}

fn history(out: &mut String, context: &ReportContext) {
    out.push_str("<section id=\"history\">\n<h2>Utilisation over time</h2>\n");
    if context.snapshots_in_history < 2 {
        out.push_str("<p>The store holds one snapshot of this org up to this one, so there is no change over time to show yet. Each later <code>sfconn collect --store</code> adds a point.</p>\n</section>\n");
        return;
    }
    if context.history.is_empty() {
        out.push_str("<p>No paid subscription with a seat limit to follow over time.</p>\n</section>\n");
        return;
    }
    // Every date any series has a point for, in order (the series are oldest first).
    let mut dates: Vec<(&str, i64)> = context
        .history
        .iter()
        .flat_map(|s| s.points.iter().map(|p| (p.collected_at.as_str(), p.snapshot.0)))
        .collect();
    dates.sort_by_key(|(at, id)| (*at, *id));
    dates.dedup();
    let lines: Vec<Line<'_>> = context
        .history
        .iter()
        .map(|series| Line {
            label: &series.name,
            values: dates
                .iter()
                .map(|(_, id)| {
                    series
                        .points
                        .iter()
                        .find(|p| p.snapshot.0 == *id)
                        .and_then(|p| utilisation(p.used, p.total))
                })
                .collect(),
        })
        .collect();
    fmt(
        out,
        format_args!(
            "<p>Seats used as a share of seats bought, for each paid subscription, in the {} snapshots of this org up to this one. Each line has its own dash pattern and marker, repeated in the legend.</p>\n",
            context.snapshots_in_history
        ),
    );
    let labels: Vec<&str> = dates.iter().map(|(at, _)| *at).collect();
    svg::utilisation_lines(out, "chart-history", "Utilisation over time, in percent", &labels, &lines);
    let mut headers = vec!["Collected at"];
    headers.extend(context.history.iter().map(|s| s.name.as_str()));
    let mut table = TableWriter::open(out, "Seats used of seats bought, per snapshot", &headers, false);
    for (at, id) in &dates {
        let cells: Vec<String> = context
            .history
            .iter()
            .map(|series| match series.points.iter().find(|p| p.snapshot.0 == *id) {
                Some(p) => format!(
                    "{} of {}",
                    p.used.map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    p.total.map_or_else(|| "-".to_owned(), |n| n.to_string())
                ),
                None => "-".to_owned(),
            })
            .collect();
        let mut row = vec![Cell::Text(at)];
        row.extend(cells.iter().map(|c| Cell::Text(c)));
        table.row(None, &row);
    }
    table.close();
    out.push_str("</section>\n");
}

fn candidates(out: &mut String, report: &Report) {
    let all = &report.reclaim_candidates;
    let seats: usize = all.iter().map(|c| c.paid_licences.len()).sum();
    fmt(
        out,
        format_args!(
            "<section id=\"reclaim\">\n<h2>Reclaim candidates ({})</h2>\n<p>Active users holding a paid licence who are frozen, have not logged in since {} ({} days), or logged in fewer than {} times in the login-activity window: reclaiming them frees {seats} paid seats. Each user is listed once, under the first class it is in.</p>\n<ul class=\"classes\">\n",
            all.len(),
            escape::text(&report.inactive_before),
            report.inactive_days,
            report.min_logins
        ),
    );
    for class in &report.classes {
        match class.candidates {
            Some(count) => fmt(
                out,
                format_args!(
                    "<li data-class=\"{}\"><strong>{}</strong>: <span data-field=\"candidates\">{count}</span></li>\n",
                    class.class.as_str(),
                    class.class.describe()
                ),
            ),
            None => fmt(
                out,
                format_args!(
                    "<li data-class=\"{}\"><strong>{}</strong>: not computed: {}</li>\n",
                    class.class.as_str(),
                    class.class.describe(),
                    escape::text(class.not_computed_because.unwrap_or("unknown"))
                ),
            ),
        }
    }
    out.push_str("</ul>\n");
    let freed: Vec<(&str, i64)> = report
        .subscriptions
        .iter()
        .filter(|s| s.reclaimable > 0)
        .map(|s| (display_name(s), s.reclaimable))
        .collect();
    if freed.is_empty() {
        out.push_str("<p>No user would give a paid seat back.</p>\n");
        return;
    }
    svg::count_bars(out, "chart-reclaim", "Seats reclaiming would free, per subscription", &freed);
    let mut table = TableWriter::open(
        out,
        "Reclaim candidates and what each frees (click a column to sort)",
        &["Username", "Class", "Name", "Kind", "Profile", "Last login", "#Days", "#Logins", "Frees"],
        true,
    );
    for candidate in all.iter().take(HTML_MAX_CANDIDATES) {
        let frees: Vec<&str> = candidate.paid_licences.iter().map(|l| l.name.as_str()).collect();
        table.row(
            Some(&candidate.user_id),
            &[
                Cell::Text(&candidate.username),
                Cell::Text(candidate.reason.as_str()),
                Cell::Text(candidate.name.as_deref().unwrap_or("")),
                Cell::Text(&candidate.account_kind),
                Cell::Text(candidate.profile.as_deref().unwrap_or("")),
                Cell::Sorted {
                    text: candidate.last_login_at.clone().unwrap_or_else(|| "never".to_owned()),
                    sort: candidate.days_since_login.unwrap_or(i64::MAX),
                },
                num("days_since_login", candidate.days_since_login),
                num("logins_in_window", candidate.logins_in_window),
                Cell::Text(&frees.join(", ")),
            ],
        );
    }
    table.close();
    more_not_listed(out, all.len());
}

/// After a list cut at [`HTML_MAX_CANDIDATES`] of `listed` rows: how many more there are.
fn more_not_listed(out: &mut String, listed: usize) {
    if listed > HTML_MAX_CANDIDATES {
        fmt(
            out,
            format_args!(
                "<p class=\"more\">… and {} more, not listed here to keep the page small: <code>sfconn report -f csv</code> or <code>-f json</code> lists them all.</p>\n",
                listed - HTML_MAX_CANDIDATES
            ),
        );
    }
}

/// The `unused_assignment` class, inside the reclaim section: each assignment to remove.
fn unused_assignments(out: &mut String, report: &Report) {
    let all = &report.unused_assignments;
    out.push_str("<h3 id=\"unused-assignments\">Unused permission set licence assignments</h3>\n");
    let class = report.classes.iter().find(|c| c.class == ReclaimClass::UnusedAssignment);
    if let Some(because) = class.and_then(|c| c.not_computed_because) {
        fmt(out, format_args!("<p>Not computed: {}.</p>\n", escape::text(because)));
        return;
    }
    if all.is_empty() {
        out.push_str("<p>None: every permission set licence assigned to an active user is used by one of the user's permission sets (users listed above are not looked at again).</p>\n");
        return;
    }
    let paid = all.iter().filter(|u| u.paid).count();
    fmt(
        out,
        format_args!(
            "<p>{} assignments ({paid} of a paid licence) that none of the user's permission sets uses: removing the user's <code>PermissionSetLicenseAssign</code> for the licence frees the seat. Users listed above are not listed again; a free licence's assignment is listed but not costed.</p>\n",
            all.len()
        ),
    );
    let priced = report.money.currency.is_some();
    let mut headers = vec!["Username", "Licence", "Key", "Paid", "Kind", "Profile", "Last login", "#Logins"];
    if priced {
        headers.push("#Per month");
    }
    let mut table = TableWriter::open(out, "Assignments to remove (click a column to sort)", &headers, true);
    for unused in all.iter().take(HTML_MAX_CANDIDATES) {
        let mut cells = vec![
            Cell::Text(&unused.username),
            Cell::Text(&unused.licence),
            Cell::Text(unused.key.as_deref().unwrap_or("")),
            Cell::Text(if unused.paid { "yes" } else { "no" }),
            Cell::Text(&unused.account_kind),
            Cell::Text(unused.profile.as_deref().unwrap_or("")),
            Cell::Text(unused.last_login_at.as_deref().unwrap_or("never")),
            num("logins_in_window", unused.logins_in_window),
        ];
        if priced {
            cells.push(num("monthly", unused.monthly));
        }
        table.row(Some(&format!("{}/{}", unused.user_id, unused.licence_id)), &cells);
    }
    table.close();
    more_not_listed(out, all.len());
}

fn login_activity(out: &mut String, report: &Report) {
    let activity = &report.login_activity;
    out.push_str("<section id=\"activity\">\n<h2>Login activity</h2>\n");
    let (Some(days), true) = (activity.days, activity.collected()) else {
        fmt(
            out,
            format_args!(
                "<p class=\"no-activity\">Login activity: {}.</p>\n</section>\n",
                escape::text(super::table::not_collected(activity.state))
            ),
        );
        return;
    };
    let users: i64 = activity.distribution.iter().map(|b| b.users).sum();
    fmt(
        out,
        format_args!(
            "<p>Active users (people, not guest or system accounts) by successful logins in the {days} days before the snapshot ({} LoginHistory rows read). Fewer than {} is low activity. {users} users counted.</p>\n",
            activity.rows.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            report.min_logins
        ),
    );
    let bars: Vec<(&str, i64)> = activity.distribution.iter().map(|b| (b.label, b.users)).collect();
    svg::count_bars(out, "chart-activity", "Users by successful logins in the window", &bars);
    let mut table = TableWriter::open(
        out,
        "Users by successful logins in the window",
        &["Logins", "#Users", "#Holding a paid licence"],
        false,
    );
    for bucket in &activity.distribution {
        table.row(
            Some(bucket.label),
            &[
                Cell::Text(bucket.label),
                num("users", Some(bucket.users)),
                num("paid_users", Some(bucket.paid_users)),
            ],
        );
    }
    table.close();
    out.push_str("</section>\n");
}

fn third_party(out: &mut String, report: &Report) {
    let footprint = &report.third_party;
    let external: i64 = footprint.external_by_kind.iter().map(|k| k.users).sum();
    fmt(
        out,
        format_args!(
            "<section id=\"third-party\">\n<h2>Third-party footprint</h2>\n<h3>External users by kind ({external})</h3>\n"
        ),
    );
    if footprint.external_by_kind.is_empty() {
        out.push_str("<p>No external users.</p>\n");
    } else {
        let kinds: Vec<(&str, i64)> =
            footprint.external_by_kind.iter().map(|k| (k.account_kind.as_str(), k.users)).collect();
        svg::count_bars(out, "chart-kinds", "External users by kind", &kinds);
        let mut table =
            TableWriter::open(out, "External users by kind", &["Kind", "#Users", "#Active"], false);
        for kind in &footprint.external_by_kind {
            table.row(
                Some(&kind.account_kind),
                &[
                    Cell::Text(&kind.account_kind),
                    num("users", Some(kind.users)),
                    num("active", Some(kind.active)),
                ],
            );
        }
        table.close();
    }
    let heading = if footprint.all_domains_shown {
        "Users by email domain (company names were `*`, so every domain is shown)".to_owned()
    } else {
        format!("Users by email domain outside {}", footprint.company_names.join(", "))
    };
    fmt(out, format_args!("<h3>{} ({})</h3>\n", escape::text(&heading), footprint.domains.len()));
    if footprint.domains.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        let domains: Vec<(&str, i64)> = footprint
            .domains
            .iter()
            .take(DOMAINS_CHARTED)
            .map(|d| (d.domain.as_deref().unwrap_or("(no email)"), d.users))
            .collect();
        svg::count_bars(out, "chart-domains", "Users per email domain, most first", &domains);
        let mut table = TableWriter::open(
            out,
            "Users by email domain, most first",
            &["Domain", "#Users", "#Active"],
            true,
        );
        for domain in footprint.domains.iter().take(HTML_MAX_DOMAINS) {
            let name = domain.domain.as_deref().unwrap_or("(no email)");
            table.row(
                Some(name),
                &[Cell::Text(name), num("users", Some(domain.users)), num("active", Some(domain.active))],
            );
        }
        table.close();
        if footprint.domains.len() > HTML_MAX_DOMAINS {
            fmt(
                out,
                format_args!(
                    "<p class=\"more\">… and {} more domains: <code>sfconn report -f csv</code> or <code>-f json</code> lists them all.</p>\n",
                    footprint.domains.len() - HTML_MAX_DOMAINS
                ),
            );
        }
    }
    out.push_str("</section>\n");
}

fn api_cost(out: &mut String, context: &ReportContext) {
    out.push_str("<section id=\"api\">\n<h2>API cost of the run</h2>\n<dl class=\"facts\">");
    fact(
        out,
        "Requests sent to Salesforce",
        &context.api_requests.map_or_else(|| "not recorded".to_owned(), |n| n.to_string()),
    );
    for (term, usage) in [
        ("Org's daily usage before", context.api_usage_before),
        ("Org's daily usage after", context.api_usage_after),
    ] {
        if let Some(usage) = usage {
            fact(out, term, &format!("{} of {}", usage.used, usage.max));
        }
    }
    fact(out, "API version", &context.api_version);
    out.push_str("</dl>\n</section>\n");
}

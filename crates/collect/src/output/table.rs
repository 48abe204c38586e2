//! `table`: a plain-text summary for a person — the organization, the subscriptions with
//! used/total and free seats, the users by kind and the top email domains, the API cost, and
//! the warnings. Users are counted, not listed (use json, ndjson or csv for them).

use std::io::Write;

use super::{Encoder, OutputError};
use crate::snapshot::{AccountKind, ApiUsageFigures, SnapshotHeader, Summary, User, Warning};

/// How many email domains the table lists before folding the rest into one line.
pub const TOP_DOMAINS: usize = 10;

#[derive(Debug, Default)]
pub(crate) struct TableEncoder {
    header: Option<SnapshotHeader>,
}

const NAME: &str = "table";

impl Encoder for TableEncoder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn begin(&mut self, _out: &mut dyn Write, header: &SnapshotHeader) -> Result<(), OutputError> {
        self.header = Some(header.clone());
        Ok(())
    }

    fn user(&mut self, _out: &mut dyn Write, _user: &User) -> Result<(), OutputError> {
        Ok(())
    }

    fn finish(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        warnings: &[Warning],
    ) -> Result<(), OutputError> {
        let Some(header) = self.header.as_ref() else {
            return Err(OutputError::Sequence("finish called before begin"));
        };
        out.write_all(render(header, summary, warnings).as_bytes()).map_err(OutputError::write(NAME))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// Lays out rows under a heading row, columns padded to their widest cell, two spaces apart,
/// each line indented by two spaces.
fn columns(text: &mut String, align: &[Align], rows: &[Vec<String>]) {
    let mut widths = vec![0; align.len()];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from(" ");
        for ((cell, width), align) in row.iter().zip(&widths).zip(align) {
            let pad = width - cell.chars().count();
            line.push(' ');
            match align {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
            line.push(' ');
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
}

fn usage(figures: Option<ApiUsageFigures>) -> String {
    match figures {
        Some(ApiUsageFigures { used, max }) => format!("{used} of {max}"),
        None => "unknown".to_owned(),
    }
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

pub(crate) fn render(header: &SnapshotHeader, summary: &Summary, warnings: &[Warning]) -> String {
    let mut text = String::new();
    let organization = &header.organization;
    let kind = if organization.is_sandbox { "sandbox" } else { "production" };
    let mut about = vec![organization.edition.clone().unwrap_or_else(|| "edition unknown".into())];
    about.push(kind.to_owned());
    if let Some(instance) = &organization.instance_name {
        about.push(format!("instance {instance}"));
    }
    let filter = if header.filter.all {
        "all users (*)".to_owned()
    } else {
        format!("users with email at {}", header.filter.company_names.join(", "))
    };
    let facts = [
        ("Organization", format!("{} ({})", organization.name, organization.id)),
        ("Edition", about.join(", ")),
        ("Instance URL", format!("{} (API {})", header.source.instance_url, header.source.api_version)),
        ("Collected at", header.collected_at.clone()),
        ("Filter", filter),
    ];
    for (label, value) in facts {
        text.push_str(&format!("{label:<14}{value}\n"));
    }

    text.push_str(&format!("\nSubscriptions ({})\n", header.subscriptions.len()));
    if header.subscriptions.is_empty() {
        text.push_str("  none readable\n");
    } else {
        let mut rows = vec![
            ["SOURCE", "NAME", "USED", "TOTAL", "FREE", "STATUS", "EXPIRES"].map(str::to_owned).to_vec(),
        ];
        for subscription in &header.subscriptions {
            let total = if subscription.unlimited {
                "unlimited".to_owned()
            } else {
                or_dash(subscription.total.map(|n| n.to_string()))
            };
            rows.push(vec![
                subscription.source.as_str().to_owned(),
                subscription.label.clone().unwrap_or_else(|| subscription.name.clone()),
                or_dash(subscription.used.map(|n| n.to_string())),
                total,
                or_dash(subscription.free().map(|n| n.to_string())),
                or_dash(subscription.status.clone()),
                or_dash(subscription.expires_at.clone()),
            ]);
        }
        use Align::{Left, Right};
        columns(&mut text, &[Left, Left, Right, Right, Right, Left, Left], &rows);
    }

    text.push_str(&format!(
        "\nUsers: {} written, {} active, {} without email, {} excluded by the filter\n",
        summary.users_total,
        summary.users_active,
        summary.users_without_email,
        summary.users_excluded_by_filter
    ));
    let mut kinds = vec![vec!["KIND".to_owned(), "USERS".to_owned()]];
    for kind in AccountKind::ALL {
        let count = summary.users_by_kind.get(kind.as_str()).copied().unwrap_or_default();
        if count > 0 {
            kinds.push(vec![kind.as_str().to_owned(), count.to_string()]);
        }
    }
    if kinds.len() > 1 {
        columns(&mut text, &[Align::Left, Align::Right], &kinds);
    }

    let mut domains: Vec<(&String, &u64)> = summary.users_by_domain.iter().collect();
    domains.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if !domains.is_empty() {
        text.push_str("\nTop email domains\n");
        let mut rows = vec![vec!["DOMAIN".to_owned(), "USERS".to_owned()]];
        for (domain, count) in domains.iter().take(TOP_DOMAINS) {
            let name = if domain.is_empty() { "(no email)".to_owned() } else { (*domain).clone() };
            rows.push(vec![name, count.to_string()]);
        }
        if domains.len() > TOP_DOMAINS {
            let rest = &domains[TOP_DOMAINS..];
            let users: u64 = rest.iter().map(|(_, count)| **count).sum();
            rows.push(vec![format!("({} more domains)", rest.len()), users.to_string()]);
        }
        columns(&mut text, &[Align::Left, Align::Right], &rows);
    }

    text.push_str(&format!(
        "\nAPI requests  {} this run; daily usage {} before, {} after\n",
        summary.api_requests,
        usage(summary.api_usage_before),
        usage(summary.api_usage_after)
    ));

    if !warnings.is_empty() {
        text.push_str(&format!("\nWarnings ({})\n", warnings.len()));
        for warning in warnings {
            match &warning.source {
                Some(source) => {
                    text.push_str(&format!("  {} ({source}): {}\n", warning.code, warning.message));
                }
                None => text.push_str(&format!("  {}: {}\n", warning.code, warning.message)),
            }
        }
    }
    text
}

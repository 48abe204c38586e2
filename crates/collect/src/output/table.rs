//! `table`: a plain-text summary for a person — the organization, the subscriptions with
//! used/total and free seats, the users by kind and the top email domains, the API cost, and
//! the warnings. Users are counted, not listed (use json, ndjson or csv for them).

use std::io::Write;

use sfconn_text::{Table, opt};

use super::{Encoder, OutputError};
use crate::snapshot::{AccountKind, ApiUsageFigures, SnapshotHeader, Summary, User, Warning};

/// How many email domains the table lists before folding the rest into one line.
pub const TOP_DOMAINS: usize = 10;

/// Before every line of a table.
const INDENT: &str = "  ";

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

fn usage(figures: Option<ApiUsageFigures>) -> String {
    match figures {
        Some(ApiUsageFigures { used, max }) => format!("{used} of {max}"),
        None => "unknown".to_owned(),
    }
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
        let mut table = Table::new(&["SOURCE", "NAME", "#USED", "#TOTAL", "#FREE", "STATUS", "EXPIRES"]);
        for subscription in &header.subscriptions {
            let total = if subscription.unlimited { "unlimited".to_owned() } else { opt(subscription.total) };
            table.row(vec![
                subscription.source.as_str().to_owned(),
                subscription.label.clone().unwrap_or_else(|| subscription.name.clone()),
                opt(subscription.used),
                total,
                opt(subscription.free()),
                opt(subscription.status.as_deref()),
                opt(subscription.expires_at.as_deref()),
            ]);
        }
        text.push_str(&table.render(INDENT));
    }
    let features = &organization.feature_licences;
    if !features.is_empty() {
        text.push_str(&format!("\nFeature licences ({}), active users org-wide\n", features.len()));
        let mut table = Table::new(&["NAME", "FIELD", "#USED", "#TOTAL"]);
        for feature in features {
            table.row(vec![
                feature.label.clone().unwrap_or_else(|| feature.name.clone()),
                feature.field.clone(),
                feature.used.to_string(),
                opt(feature.total),
            ]);
        }
        text.push_str(&table.render(INDENT));
    }

    text.push_str(&format!(
        "\nUsers: {} written, {} active, {} without email, {} excluded by the filter\n",
        summary.users_total,
        summary.users_active,
        summary.users_without_email,
        summary.users_excluded_by_filter
    ));
    let mut kinds = Table::new(&["KIND", "#USERS"]);
    for kind in AccountKind::ALL {
        let count = summary.users_by_kind.get(kind.as_str()).copied().unwrap_or_default();
        if count > 0 {
            kinds.row(vec![kind.as_str().to_owned(), count.to_string()]);
        }
    }
    if !kinds.is_empty() {
        text.push_str(&kinds.render(INDENT));
    }

    let mut domains: Vec<(&String, &u64)> = summary.users_by_domain.iter().collect();
    domains.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if !domains.is_empty() {
        text.push_str("\nTop email domains\n");
        let mut table = Table::new(&["DOMAIN", "#USERS"]);
        for (domain, count) in domains.iter().take(TOP_DOMAINS) {
            let name = if domain.is_empty() { "(no email)".to_owned() } else { (*domain).clone() };
            table.row(vec![name, count.to_string()]);
        }
        if domains.len() > TOP_DOMAINS {
            let rest = &domains[TOP_DOMAINS..];
            let users: u64 = rest.iter().map(|(_, count)| **count).sum();
            table.row(vec![format!("({} more domains)", rest.len()), users.to_string()]);
        }
        text.push_str(&table.render(INDENT));
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

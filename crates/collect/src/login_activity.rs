//! Login activity (issue 18): per user, the successful logins of the last
//! `login_activity_days` days and the application and type of the latest one, from
//! `LoginHistory`.
//!
//! `LoginHistory.Status` is not filterable (Object Reference, "LoginHistory": only
//! `AuthenticationServiceId`, `CipherSuite`, `CountryIso`, `Id`, `LoginTime`, `LoginType`,
//! `LoginUrl`, `NetworkId`, `TlsProtocol` and `UserId` are), so the window is read whole
//! (`LoginTime = LAST_N_DAYS:N`) with `Status`, and only the rows whose `Status` is `Success`
//! count.
//!
//! `SELECT count()` of the window decides the path: at or below
//! `login_activity_bulk_threshold` rows the rows are paged through REST (`ORDER BY Id`, so a
//! cursor restart can resume), above it they come from a Bulk API 2.0 query job
//! (`sfconn_api::BulkQuery`). Either way the rows are aggregated as they arrive into one
//! counter per user ([`Activity`]): memory grows with the users who logged in, never with the
//! rows.
//!
//! **Decision: aggregated whole before the header, not merged with the User stream.** Bulk API
//! 2.0 results come in the order the job's chunks finish, not sorted by `UserId`, so a merge
//! join (as for licence assignments) could not be fed from the Bulk path; and nothing may be
//! written before every source's first page is in (docs/architecture.md). So the window is read
//! to its end while the header waits, and each user takes its counter when it is written. The
//! price is memory per active user (about 60 bytes: the id, the count, the latest time and two
//! small indexes into the distinct application and login-type names) and, on the REST path, no
//! overlap of the LoginHistory pages with the User pages beyond the User stream's read-ahead.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use serde::Deserialize;
use sfconn_api::{ApiClient, ApiError, BulkOptions, Cleanups};

use crate::budget::GuardGate;
use crate::progress::{Progress, SourceStatus};
use crate::snapshot::LoginActivitySummary;

/// The object read.
pub(crate) const OBJECT: &str = "LoginHistory";

/// How the rows were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    Rest,
    Bulk,
}

impl Path {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Path::Rest => "rest",
            Path::Bulk => "bulk",
        }
    }
}

/// One `LoginHistory` row as both paths read it (REST JSON, Bulk CSV by header name).
#[derive(Debug, Deserialize)]
struct Row {
    #[serde(rename = "UserId")]
    user_id: Option<String>,
    #[serde(rename = "LoginTime")]
    login_time: Option<String>,
    #[serde(rename = "Application")]
    application: Option<String>,
    #[serde(rename = "LoginType")]
    login_type: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
}

/// One user's logins in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Activity {
    logins: u32,
    /// The latest `LoginTime`, as `YYYYMMDDhhmmss` (UTC): both paths' forms compare so.
    latest: u64,
    application: u32,
    login_type: u32,
}

/// What a user's snapshot fields say about its logins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserActivity {
    /// Successful logins in the window.
    pub logins: u64,
    /// The latest one's application.
    pub last_application: Option<String>,
    /// The latest one's login type.
    pub last_login_type: Option<String>,
}

/// The window's logins, per user.
#[derive(Debug, Default)]
pub(crate) struct LoginActivity {
    days: u32,
    path: Option<Path>,
    /// Rows read (every attempt in the window).
    rows: u64,
    /// Of those, the successful logins.
    successes: u64,
    users: HashMap<Box<str>, Activity>,
    /// Distinct applications and login types, indexed by `Activity`.
    names: Vec<Option<Box<str>>>,
    name_index: HashMap<Option<Box<str>>, u32>,
}

impl LoginActivity {
    fn new(days: u32) -> LoginActivity {
        LoginActivity { days, ..LoginActivity::default() }
    }

    fn name(&mut self, text: Option<String>) -> u32 {
        let key = text.map(String::into_boxed_str);
        if let Some(index) = self.name_index.get(&key) {
            return *index;
        }
        let index = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(key.clone());
        self.name_index.insert(key, index);
        index
    }

    fn add(&mut self, row: Row) {
        self.rows += 1;
        if row.status.as_deref() != Some(SUCCESS) {
            return;
        }
        self.successes += 1;
        let Some(user) = row.user_id else { return };
        let latest = row.login_time.as_deref().map_or(0, sortable_time);
        let application = self.name(row.application);
        let login_type = self.name(row.login_type);
        let fresh = Activity { logins: 1, latest, application, login_type };
        match self.users.get_mut(user.as_str()) {
            Some(activity) => {
                activity.logins = activity.logins.saturating_add(1);
                if latest > activity.latest {
                    *activity = Activity { logins: activity.logins, ..fresh };
                }
            }
            None => {
                self.users.insert(user.into_boxed_str(), fresh);
            }
        }
    }

    /// The fields of the user with this id (18-character, as the User query returns it).
    pub(crate) fn of(&self, user_id: &str) -> UserActivity {
        let Some(activity) = self.users.get(user_id) else {
            return UserActivity::default();
        };
        let name = |index: u32| self.names.get(index as usize).cloned().flatten().map(String::from);
        UserActivity {
            logins: u64::from(activity.logins),
            last_application: name(activity.application),
            last_login_type: name(activity.login_type),
        }
    }

    pub(crate) fn summary(&self) -> LoginActivitySummary {
        LoginActivitySummary {
            days: self.days,
            path: self.path.unwrap_or(Path::Rest).as_str().to_owned(),
            rows: self.rows,
            successful: self.successes,
        }
    }
}

/// `2025-06-01T12:00:00.000+0000` (REST) or `2025-06-01T12:00:00.000Z` (Bulk) as a number
/// that sorts as the time does.
fn sortable_time(text: &str) -> u64 {
    text.bytes().take(19).filter(u8::is_ascii_digit).fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'))
}

/// `LoginHistory.Status` of a successful login.
const SUCCESS: &str = "Success";

/// The window's condition (`Status` cannot be filtered on: see the module documentation).
pub(crate) fn window(days: u32) -> String {
    format!("LoginTime = LAST_N_DAYS:{days}")
}

/// The count that decides the path.
pub(crate) fn count_soql(days: u32) -> String {
    format!("SELECT count() FROM LoginHistory WHERE {}", window(days))
}

/// The rows, through either path (REST pages them `ORDER BY Id`, so that a cursor restart
/// can resume; a Bulk job is not ordered).
pub(crate) fn rows_soql(days: u32, path: Path) -> String {
    let select = format!(
        "SELECT UserId, LoginTime, Application, LoginType, Status FROM LoginHistory WHERE {}",
        window(days)
    );
    match path {
        Path::Rest => format!("{select} ORDER BY Id"),
        Path::Bulk => select,
    }
}

/// Reads the window through the path its size calls for, once the budget guard has let the
/// run go.
pub(crate) async fn collect(
    client: &ApiClient,
    days: u32,
    bulk_threshold: u64,
    gate: &GuardGate,
    cleanups: &Cleanups,
    progress: &dyn Progress,
) -> Result<LoginActivity, ApiError> {
    gate.open().await?;
    let mut counted = std::pin::pin!(client.query_pages::<serde_json::Value>(count_soql(days)));
    let total = counted.try_next().await?.map_or(0, |page| page.total_size);
    let mut activity = LoginActivity::new(days);
    if total > bulk_threshold {
        activity.path = Some(Path::Bulk);
        let mut query =
            client.bulk_query(OBJECT, &rows_soql(days, Path::Bulk), BulkOptions::default(), cleanups).await?;
        // Each row is counted as it is decoded: a page of 50,000 rows is held as text only.
        while let Some(rows) = query.next_rows::<Row>(|row| activity.add(row)).await? {
            progress.advanced(OBJECT, rows, total);
        }
        query.finish().await?;
    } else {
        activity.path = Some(Path::Rest);
        let mut pages = std::pin::pin!(client.query_pages::<Row>(rows_soql(days, Path::Rest)));
        while let Some(page) = pages.try_next().await? {
            for row in page.records {
                activity.add(row);
            }
            progress.advanced(OBJECT, activity.rows, page.total_size);
        }
    }
    progress.finished(OBJECT, SourceStatus::Read { records: activity.rows });
    Ok(activity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str, at: &str, application: &str) -> Row {
        Row {
            user_id: Some(user.to_owned()),
            login_time: Some(at.to_owned()),
            application: Some(application.to_owned()),
            login_type: Some("Application".to_owned()),
            status: Some("Success".to_owned()),
        }
    }

    #[test]
    fn counts_per_user_and_keeps_the_latest_login_whatever_the_order() {
        let mut activity = LoginActivity::new(30);
        activity.add(row("005A", "2025-05-20T10:00:00.000Z", "Browser"));
        activity.add(row("005A", "2025-05-31T09:00:00.000+0000", "Salesforce for iOS"));
        activity.add(row("005A", "2025-05-25T10:00:00.000Z", "Data Loader"));
        activity.add(row("005B", "2025-05-01T00:00:00.000Z", "Browser"));
        // A failed attempt is read but neither counted nor the latest login.
        activity.add(Row {
            status: Some("Invalid Password".to_owned()),
            ..row("005A", "2025-06-01T00:00:00.000Z", "Evil")
        });
        assert_eq!(
            activity.of("005A"),
            UserActivity {
                logins: 3,
                last_application: Some("Salesforce for iOS".into()),
                last_login_type: Some("Application".into())
            }
        );
        assert_eq!(activity.of("005B").logins, 1);
        assert_eq!(activity.of("005C"), UserActivity::default());
        assert_eq!((activity.rows, activity.successes), (5, 4));
        assert_eq!(activity.names.len(), 4, "names are kept once each");
    }

    #[test]
    fn both_time_forms_sort_as_the_time() {
        assert!(sortable_time("2025-05-31T09:00:00.000+0000") > sortable_time("2025-05-30T23:59:59.000Z"));
        assert_eq!(sortable_time("2025-05-31T09:00:00.000+0000"), sortable_time("2025-05-31T09:00:00.000Z"));
    }

    #[test]
    fn the_queries_read_the_whole_window_and_only_rest_is_ordered() {
        assert_eq!(count_soql(30), "SELECT count() FROM LoginHistory WHERE LoginTime = LAST_N_DAYS:30");
        assert!(
            rows_soql(7, Path::Rest)
                .ends_with("Status FROM LoginHistory WHERE LoginTime = LAST_N_DAYS:7 ORDER BY Id")
        );
        assert!(!rows_soql(7, Path::Bulk).contains("ORDER BY"));
    }
}

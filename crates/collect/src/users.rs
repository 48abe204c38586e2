//! The User stream of a run: `User` described, its visible fields selected, the query sent
//! with the company filter's domains pushed down (`ORDER BY Id`), and its pages read ahead
//! while the snapshot header waits for the org-wide sources ([`UserPages`]).

use std::collections::VecDeque;

use futures_util::{FutureExt, TryStreamExt};
use sfconn_api::{ApiClient, ApiError, FieldSelection, Page, records, select_fields, soql};
use sfconn_filter::CompanyFilter;

use crate::budget::GuardGate;
use crate::feature_licences::{FeatureField, FeatureFieldsSender};
use crate::sources::PageStream;
use crate::{arrival, stop};

/// `User` fields that every snapshot needs; `Email` joins them when company names are given.
const USER_REQUIRED: &[&str] = &["Id", "Username", "IsActive", "UserType"];
const USER_OPTIONAL: &[&str] = &[
    "Email",
    "Name",
    "FirstName",
    "LastName",
    "Alias",
    "ProfileId",
    "Profile.UserLicenseId",
    "LastLoginDate",
    "CreatedDate",
    "CompanyName",
    "Department",
    "Title",
    "City",
    "Country",
    "CountryCode",
    "FederationIdentifier",
];

/// The User query once started: the field selection, its first page (`None`: the query had
/// no page) and the remaining pages.
pub(crate) struct OpenUsers {
    selection: FieldSelection,
    first: Option<Page<records::User>>,
    rest: PageStream<records::User>,
}

/// Describes `User`, starts the User query and reads its first page. The User chain is the
/// longest, so its requests are first in line for the concurrency cap, which keeps a permit
/// for them while the query runs ([`ApiClient::first_in_line`]). The describe goes beside the
/// budget guard's `/limits` call; the query waits for the guard (`gate`). With company names
/// `Email` is required too: the filter decides by it.
pub(crate) async fn open_users(
    client: &ApiClient,
    filter: &CompanyFilter,
    gate: &GuardGate,
    feature_fields: FeatureFieldsSender,
) -> Result<OpenUsers, ApiError> {
    let client = client.first_in_line();
    let describe = client.describe("User").await?;
    let required: Vec<&str> = if filter.is_everyone() {
        USER_REQUIRED.to_vec()
    } else {
        USER_REQUIRED.iter().copied().chain(["Email"]).collect()
    };
    let mut selection = select_fields(&describe, &required, USER_OPTIONAL)?;
    // The feature licences the org has (Marketing User, Knowledge User, …) are the
    // `UserPermissions*` checkboxes that describe lists; an org without one selects none.
    let features = describe.checkboxes_starting_with(records::FEATURE_LICENCE_PREFIX);
    selection.fields.extend(features.iter().map(|field| field.name.clone()));
    // Their seats are counted beside the User query (crate::feature_licences); a run that no
    // longer waits for them has failed already.
    let _ = feature_fields.send(features.into_iter().map(FeatureField::from_describe).collect());
    let soql = user_query(&selection.select_list(), filter);
    // No User row is asked for before the budget guard has let the run go.
    gate.open().await?;
    let mut rest: PageStream<records::User> =
        Box::pin(client.query_pages_checked::<records::User>(soql, arrival::users()));
    let first = rest.try_next().await?;
    Ok(OpenUsers { selection, first, rest })
}

/// Pages of the User query held, at most, while the snapshot header waits for the org-wide
/// sources: enough that the User chain keeps moving until the header can be written. Before
/// the header, 21 other requests (the budget guard, five describes, five org-wide queries, the
/// two lists of the unused-assignment rule, four first assignment pages, four feature licence
/// counts) share the three permits the User chain leaves of `http.concurrency` = 4: seven
/// round trips after the version list, and the first `PermissionSetAssignment` page can only
/// leave after `PermissionSet` has answered; meanwhile the User chain asks for page 1 after
/// three round trips and for one page per round trip after that. With six pages held and the
/// seventh in flight, page 8 is the first to wait for the header, and it would be asked for
/// after the tenth round trip, about when the header can be out (docs/benchmarks.md, "After
/// merging issue 19's three queries"; with four, the chain waited about two round trips).
/// Memory: about 2 MiB per page held, only before the header, and only while the pages come a
/// round trip apart: see [`ROUND_TRIP_WORTH_HOLDING`].
const USER_PAGES_HELD_BEFORE_HEADER: usize = 6;

/// Pages that arrive less than this apart are not held beyond [`USER_PAGES_HELD`] before the
/// header: the chain is then not waiting for round trips (an org on the same machine, no
/// latency), writing the pages held takes as long as fetching them again, and holding more
/// would only raise the peak memory (up to 3.3 MiB at 1M users with no latency, measured).
const ROUND_TRIP_WORTH_HOLDING: std::time::Duration = std::time::Duration::from_millis(25);

/// Pages of the User query held, at most, while the header waits when they come less than a
/// round trip apart ([`ROUND_TRIP_WORTH_HOLDING`]).
const USER_PAGES_HELD: usize = 2;

/// The User query as the run reads it: the field selection, the pages read ahead, then the
/// rest of the stream.
pub(crate) struct UserPages {
    pub(crate) selection: FieldSelection,
    held: VecDeque<Page<records::User>>,
    /// `None` once the stream has ended.
    rest: Option<PageStream<records::User>>,
    /// A failure while reading ahead, reported after the pages held (where it would have come).
    failed: Option<ApiError>,
    /// Settles a failure read ahead before it is held ([`stop::holder`]).
    hold: stop::Holder,
    /// Pages [`UserPages::next`] tops the held ones up to, so that a page that arrives while
    /// the held ones are being written is taken (and the one after it requested) at once:
    /// with pages a round trip apart, [`USER_PAGES_HELD_BEFORE_HEADER`] while the pages held
    /// when the header was out are written ([`UserPages::backlog`]); after that, or with pages
    /// coming faster, down by one per page taken, and none once nothing is held. Then the
    /// stream's own read-ahead (one page) is all: holding more only raised the memory when
    /// pages come faster than they are written, and gained no time (docs/benchmarks.md,
    /// fourth pass).
    top_up_to: usize,
    /// The pages held when the header was out and not yet taken.
    backlog: usize,
}

impl UserPages {
    /// Opens the User query, then takes its pages, up to [`USER_PAGES_HELD_BEFORE_HEADER`] (or
    /// [`USER_PAGES_HELD`] once one has come less than [`ROUND_TRIP_WORTH_HOLDING`] after the
    /// one before), until `header_wait` resolves (the org-wide sources are read; their sender
    /// was dropped).
    pub(crate) async fn open(
        opening: impl Future<Output = Result<OpenUsers, ApiError>>,
        header_wait: tokio::sync::oneshot::Receiver<()>,
        hold: stop::Holder,
    ) -> Result<UserPages, ApiError> {
        let OpenUsers { selection, first, rest } = opening.await?;
        let mut users = UserPages {
            selection,
            held: first.into_iter().collect(),
            rest: Some(rest),
            failed: None,
            hold,
            top_up_to: USER_PAGES_HELD_BEFORE_HEADER,
            backlog: 0,
        };
        let mut header_wait = std::pin::pin!(header_wait);
        let mut previous = tokio::time::Instant::now();
        while users.held.len() < users.top_up_to && users.failed.is_none() {
            let Some(rest) = users.rest.as_mut() else {
                break;
            };
            tokio::select! {
                biased;
                _ = &mut header_wait => break,
                page = rest.try_next() => users.keep(page),
            }
            if previous.elapsed() < ROUND_TRIP_WORTH_HOLDING {
                users.top_up_to = USER_PAGES_HELD;
            }
            previous = tokio::time::Instant::now();
        }
        users.backlog = users.held.len();
        Ok(users)
    }

    fn keep(&mut self, page: Result<Option<Page<records::User>>, ApiError>) {
        match page {
            Ok(Some(page)) => self.held.push_back(page),
            Ok(None) => self.rest = None,
            Err(error) => self.failed = Some((self.hold)(error)),
        }
    }

    /// The next page: the held ones first, then the stream's. Taking a held page also takes
    /// the stream's next one if it has already arrived (without waiting) and fewer are held
    /// than [`UserPages::top_up_to`], so that the page after it is requested at once.
    pub(crate) async fn next(&mut self) -> Result<Option<Page<records::User>>, ApiError> {
        if let Some(page) = self.held.pop_front() {
            while self.held.len() < self.top_up_to && self.failed.is_none() {
                let Some(arrived) = self.rest.as_mut().and_then(|rest| rest.try_next().now_or_never()) else {
                    break;
                };
                self.keep(arrived);
            }
            self.backlog = self.backlog.saturating_sub(1);
            if self.held.is_empty() {
                self.top_up_to = 0;
            } else if self.backlog == 0 || self.top_up_to < USER_PAGES_HELD_BEFORE_HEADER {
                self.top_up_to = self.top_up_to.saturating_sub(1);
            }
            return Ok(Some(page));
        }
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        match self.rest.as_mut() {
            Some(rest) => rest.try_next().await,
            None => Ok(None),
        }
    }
}

/// The User query. With company names the domains are pushed into the `WHERE` clause
/// (`Email LIKE '%@acme.com' OR Email LIKE '%.acme.com'`, escaped) so that users of other
/// companies are not transferred; the client-side filter still decides.
pub fn user_query(select_list: &str, filter: &CompanyFilter) -> String {
    let mut soql = format!("SELECT {select_list} FROM User");
    if !filter.is_everyone() && !filter.domains().is_empty() {
        let conditions: Vec<String> = filter
            .domains()
            .iter()
            .flat_map(|domain| {
                [
                    format!("Email LIKE {}", soql::like_pattern("%@", domain, "")),
                    format!("Email LIKE {}", soql::like_pattern("%.", domain, "")),
                ]
            })
            .collect();
        soql.push_str(" WHERE ");
        soql.push_str(&conditions.join(" OR "));
    }
    soql.push_str(" ORDER BY Id");
    soql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_query_without_names_reads_everyone_in_id_order() {
        let filter = CompanyFilter::parse(["*"]).unwrap();
        assert_eq!(user_query("Id, Username", &filter), "SELECT Id, Username FROM User ORDER BY Id");
    }

    #[test]
    fn user_query_pushes_domains_down_escaped() {
        let filter = CompanyFilter::parse(["acme.com", "my_co.io"]).unwrap();
        assert_eq!(
            user_query("Id", &filter),
            "SELECT Id FROM User WHERE Email LIKE '%@acme.com' OR Email LIKE '%.acme.com' \
             OR Email LIKE '%@my\\_co.io' OR Email LIKE '%.my\\_co.io' ORDER BY Id"
        );
    }

    fn user_page(id: &str) -> Page<records::User> {
        Page {
            total_size: 4,
            records: vec![serde_json::from_value(serde_json::json!({ "Id": id })).unwrap()],
        }
    }

    /// A User query whose first page has been taken, the rest as `rest`.
    fn opened(
        rest: Vec<Result<Page<records::User>, ApiError>>,
    ) -> std::future::Ready<Result<OpenUsers, ApiError>> {
        let selection = FieldSelection { fields: vec!["Id".to_owned()], missing_optional: Vec::new() };
        let rest = Box::pin(futures_util::stream::iter(rest));
        std::future::ready(Ok(OpenUsers { selection, first: Some(user_page("1")), rest }))
    }

    async fn ids(users: &mut UserPages) -> Result<Vec<String>, ApiError> {
        let mut ids = Vec::new();
        while let Some(page) = users.next().await? {
            ids.extend(page.records.into_iter().map(|user| user.id));
        }
        Ok(ids)
    }

    /// A User query whose first page has been taken; page `n + 2` of `rest` arrives `n + 1`
    /// times `apart` after the start (when nobody waits for it, it is there when asked for).
    fn opened_apart(
        rest: Vec<Result<Page<records::User>, ApiError>>,
        apart: std::time::Duration,
    ) -> std::future::Ready<Result<OpenUsers, ApiError>> {
        let selection = FieldSelection { fields: vec!["Id".to_owned()], missing_optional: Vec::new() };
        let start = tokio::time::Instant::now();
        let arriving = futures_util::stream::iter(rest.into_iter().zip(1u32..));
        let rest = Box::pin(futures_util::StreamExt::then(arriving, move |(page, n)| async move {
            tokio::time::sleep_until(start + apart * n).await;
            page
        }));
        std::future::ready(Ok(OpenUsers { selection, first: Some(user_page("1")), rest }))
    }

    fn held(users: &UserPages) -> Vec<String> {
        users.held.iter().map(|page| page.records[0].id.clone()).collect()
    }

    #[tokio::test]
    async fn pages_coming_without_round_trips_are_held_no_further_than_the_lower_limit() {
        let rest = ["2", "3", "4", "5"].into_iter().map(|id| Ok(user_page(id))).collect();
        let (_header_not_ready, header_wait) = tokio::sync::oneshot::channel();
        let mut users = UserPages::open(opened(rest), header_wait, Box::new(|error| error)).await.unwrap();
        assert_eq!(held(&users), ["1", "2"]);
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "1");
        assert_eq!(held(&users), ["2", "3"]);
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "2");
        assert_eq!(held(&users), ["3"]);
        assert_eq!(ids(&mut users).await.unwrap(), ["3", "4", "5"]);
    }

    #[tokio::test]
    async fn user_pages_are_read_ahead_while_the_header_waits_but_no_further_than_the_limit() {
        let rest = (2..=10).map(|id| Ok(user_page(&id.to_string()))).collect();
        let (_header_not_ready, header_wait) = tokio::sync::oneshot::channel();
        // Page n + 2 arrives n + 1 times this after the start: each wait below ends after the
        // page it waits for has arrived and well before the next one.
        let apart = std::time::Duration::from_millis(100);
        assert!(apart > ROUND_TRIP_WORTH_HOLDING);
        let mut users =
            UserPages::open(opened_apart(rest, apart), header_wait, Box::new(|error| error)).await.unwrap();
        assert_eq!(USER_PAGES_HELD_BEFORE_HEADER, 6);
        assert_eq!(held(&users), ["1", "2", "3", "4", "5", "6"]);
        // The header is written while page 7 arrives, a round trip after page 6.
        tokio::time::sleep(apart).await;
        // While the held pages are written, pages that have arrived are taken (so that the next
        // is requested at once), up to the same limit.
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "1");
        assert_eq!(held(&users), ["2", "3", "4", "5", "6", "7"]);
        tokio::time::sleep(apart).await;
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "2");
        assert_eq!(held(&users), ["3", "4", "5", "6", "7", "8"]);
        for (taken, left) in [
            ("3", vec!["4", "5", "6", "7", "8"]),
            ("4", vec!["5", "6", "7", "8"]),
            ("5", vec!["6", "7", "8"]),
            ("6", vec!["7", "8"]),
            ("7", vec!["8"]),
        ] {
            assert_eq!(users.next().await.unwrap().unwrap().records[0].id, taken);
            assert_eq!(held(&users), left);
        }
        // Once they are all written, the stream hands out its pages itself, one ahead.
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "8");
        assert!(held(&users).is_empty());
        tokio::time::sleep(apart * 3).await;
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "9");
        assert!(held(&users).is_empty());
        assert_eq!(ids(&mut users).await.unwrap(), ["10"]);
    }

    #[tokio::test]
    async fn when_the_run_cannot_keep_up_the_pages_held_fall_to_none_after_the_backlog() {
        let rest = (2..=14).map(|id| Ok(user_page(&id.to_string()))).collect();
        let (_header_not_ready, header_wait) = tokio::sync::oneshot::channel();
        let apart = ROUND_TRIP_WORTH_HOLDING + std::time::Duration::from_millis(15);
        let mut users =
            UserPages::open(opened_apart(rest, apart), header_wait, Box::new(|error| error)).await.unwrap();
        assert_eq!(held(&users), ["1", "2", "3", "4", "5", "6"]);
        // Every later page has arrived before the run takes one: the run is the slower side.
        tokio::time::sleep(apart * 14).await;
        // The backlog (six pages) keeps six held; after it the limit falls by one per page.
        let strings =
            |range: std::ops::RangeInclusive<u32>| range.map(|id| id.to_string()).collect::<Vec<_>>();
        for (taken, left) in [
            (1, strings(2..=7)),
            (2, strings(3..=8)),
            (3, strings(4..=9)),
            (4, strings(5..=10)),
            (5, strings(6..=11)),
            (6, strings(7..=12)),
            (7, strings(8..=12)),
            (8, strings(9..=12)),
            (9, strings(10..=12)),
            (10, strings(11..=12)),
            (11, strings(12..=12)),
            (12, vec![]),
        ] {
            assert_eq!(users.next().await.unwrap().unwrap().records[0].id, taken.to_string());
            assert_eq!(held(&users), left, "after page {taken}");
        }
        assert_eq!(ids(&mut users).await.unwrap(), ["13", "14"]);
    }

    #[tokio::test]
    async fn user_pages_are_not_read_ahead_once_the_header_can_be_written() {
        let rest = ["2", "3"].into_iter().map(|id| Ok(user_page(id))).collect();
        let (header_ready, header_wait) = tokio::sync::oneshot::channel::<()>();
        drop(header_ready);
        let mut users = UserPages::open(opened(rest), header_wait, Box::new(|error| error)).await.unwrap();
        assert_eq!(users.held.len(), 1);
        assert_eq!(ids(&mut users).await.unwrap(), ["1", "2", "3"]);
    }

    #[tokio::test]
    async fn a_failure_while_reading_ahead_comes_after_the_pages_before_it() {
        let rest = vec![Err(ApiError::Internal("page 2 failed".to_owned())), Ok(user_page("3"))];
        let (_header_not_ready, header_wait) = tokio::sync::oneshot::channel();
        let mut users = UserPages::open(opened(rest), header_wait, Box::new(|error| error)).await.unwrap();
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "1");
        let error = users.next().await.unwrap_err();
        assert!(error.to_string().contains("page 2 failed"), "{error}");
    }
}

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

/// Pages of the User query held, at most, before the run takes them: enough that the User
/// chain keeps moving while the snapshot header waits for the org-wide sources, few enough
/// that memory stays a constant number of pages (besides these, the one in flight).
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
}

impl UserPages {
    /// Opens the User query, then takes its pages, up to [`USER_PAGES_HELD`], until
    /// `header_wait` resolves (the org-wide sources are read; their sender was dropped).
    pub(crate) async fn open(
        opening: impl Future<Output = Result<OpenUsers, ApiError>>,
        header_wait: tokio::sync::oneshot::Receiver<()>,
        hold: stop::Holder,
    ) -> Result<UserPages, ApiError> {
        let OpenUsers { selection, first, rest } = opening.await?;
        let mut users =
            UserPages { selection, held: first.into_iter().collect(), rest: Some(rest), failed: None, hold };
        let mut header_wait = std::pin::pin!(header_wait);
        while users.held.len() < USER_PAGES_HELD && users.failed.is_none() {
            let Some(rest) = users.rest.as_mut() else {
                break;
            };
            tokio::select! {
                biased;
                _ = &mut header_wait => break,
                page = rest.try_next() => users.keep(page),
            }
        }
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
    /// the stream's next one if it has already arrived (without waiting), so that the page
    /// after it is requested at once.
    pub(crate) async fn next(&mut self) -> Result<Option<Page<records::User>>, ApiError> {
        if let Some(page) = self.held.pop_front() {
            while self.held.len() < USER_PAGES_HELD && self.failed.is_none() {
                let Some(arrived) = self.rest.as_mut().and_then(|rest| rest.try_next().now_or_never()) else {
                    break;
                };
                self.keep(arrived);
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

    #[tokio::test]
    async fn user_pages_are_read_ahead_while_the_header_waits_but_no_further_than_the_limit() {
        let rest = ["2", "3", "4"].into_iter().map(|id| Ok(user_page(id))).collect();
        let (_header_not_ready, header_wait) = tokio::sync::oneshot::channel();
        let mut users = UserPages::open(opened(rest), header_wait, Box::new(|error| error)).await.unwrap();
        assert_eq!(users.held.len(), USER_PAGES_HELD);
        // Taking a page takes the next one already arrived, still within the limit.
        assert_eq!(users.next().await.unwrap().unwrap().records[0].id, "1");
        assert_eq!(users.held.len(), USER_PAGES_HELD);
        assert_eq!(ids(&mut users).await.unwrap(), ["2", "3", "4"]);
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

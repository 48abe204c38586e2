//! One connector run: settings → token → API version → budget guard → the org-wide sources,
//! the first User page and the first page of each assignment query (concurrently) → users
//! streamed through the company filter into a [`SnapshotSink`], each joined with its licence
//! assignments by a merge of the User stream (`ORDER BY Id`) with the assignment streams
//! (`ORDER BY AssigneeId, Id` / `ORDER BY UserId, Id`), all three read at once.
//! Every call it makes is listed, in order, in `docs/api-calls.md`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{FutureExt, Stream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use sfconn_api::{
    ApiClient, ApiError, ApiUsage, ClientOptions, Page, RetryPolicy, records, select_fields, soql,
};
use sfconn_auth::{AuthOptions, Credentials, RequestCounter, Rotation, TokenSource};
use sfconn_config::Settings;
use sfconn_errors::{Classify, ErrorClass};
use sfconn_filter::CompanyFilter;
use time::OffsetDateTime;

use crate::error::CollectError;
use crate::mapping::{self, AssignmentMerge, IdOrder, Merge, OutOfOrder, UserContext, UserLicences};
use crate::output::SnapshotSink;
use crate::snapshot::{
    ApiUsageFigures, Filter, Profile, SnapshotHeader, Source, Subscription, Summary, UserTally,
    WARNING_COMPANY_FILTER_MISMATCH, WARNING_FIELD_UNAVAILABLE, WARNING_REFRESH_TOKEN_ROTATED,
    WARNING_SOURCE_SKIPPED, Warning,
};
use crate::stop;

/// File name, in the state directory, of a rotated refresh token that had no
/// `refresh_token_file` to go to.
pub const ROTATED_REFRESH_TOKEN_FILE: &str = "refresh_token";

/// Records per query page asked of Salesforce (`Sforce-Query-Options: batchSize`).
pub const BATCH_SIZE: u32 = 2000;

/// The sources of a run, as named to [`Progress`] (the Salesforce object names), in the order
/// they are reported.
pub const SOURCES: [&str; 8] = [
    "Organization",
    "UserLicense",
    "Profile",
    "PermissionSetLicense",
    "PackageLicense",
    "PermissionSetLicenseAssign",
    "UserPackageLicense",
    "User",
];

/// How a source ended, for [`Progress::finished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    /// All records read.
    Read {
        /// Records read.
        records: u64,
    },
    /// An optional source the integration user cannot read (`source_skipped`).
    Skipped,
}

/// Reports progress per source: records read so far out of Salesforce's `totalSize`. Called
/// from the run's task; implementations must be cheap (the CLI draws indicatif bars).
pub trait Progress: Send + Sync {
    /// `done` records of `total` read from `source` (one of [`SOURCES`]).
    fn advanced(&self, source: &str, done: u64, total: u64);
    /// `source` is complete or was skipped.
    fn finished(&self, source: &str, status: SourceStatus);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advanced(&self, _source: &str, _done: u64, _total: u64) {}
    fn finished(&self, _source: &str, _status: SourceStatus) {}
}

/// What a successful run produced besides the output: the figures and warnings the caller
/// shows on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The summary written to the snapshot.
    pub summary: Summary,
    /// The warnings written to the snapshot.
    pub warnings: Vec<Warning>,
    /// What happened to the refresh token (a `Persisted` rotation is not a warning, but the
    /// CLI may say where the new token went).
    pub rotation: Rotation,
}

/// One source's description for the generic fetch.
struct Spec<'a> {
    object: &'static str,
    required: &'a [&'a str],
    optional: &'a [&'a str],
}

/// Records of one source and the optional fields it could not read.
struct Fetched<T> {
    records: Vec<T>,
    missing_optional: Vec<String>,
}

/// A source that is optional: its data, or why it was skipped.
enum Optional<T> {
    Read(T),
    Skipped(Warning),
}

const ORGANIZATION: Spec<'static> = Spec {
    object: "Organization",
    required: &["Id", "Name"],
    optional: &["OrganizationType", "IsSandbox", "InstanceName"],
};
const USER_LICENSE: Spec<'static> = Spec {
    object: "UserLicense",
    required: &["Id", "Name"],
    optional: &["MasterLabel", "LicenseDefinitionKey", "Status", "TotalLicenses", "UsedLicenses"],
};
const PROFILE: Spec<'static> = Spec {
    object: "Profile",
    required: &["Id", "Name"],
    optional: &["UserType", "UserLicenseId", "Description"],
};
const PERMISSION_SET_LICENSE: Spec<'static> = Spec {
    object: "PermissionSetLicense",
    required: &["Id", "DeveloperName"],
    optional: &[
        "MasterLabel",
        "PermissionSetLicenseKey",
        "Status",
        "ExpirationDate",
        "TotalLicenses",
        "UsedLicenses",
    ],
};
const PACKAGE_LICENSE: Spec<'static> = Spec {
    object: "PackageLicense",
    required: &["Id"],
    optional: &["NamespacePrefix", "AllowedLicenses", "UsedLicenses", "Status", "ExpirationDate"],
};
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

/// Runs the connector once and streams the snapshot into `sink`. On success the sink has been
/// finished (the output is published); on failure it has not, and dropping it discards
/// everything written so far.
pub async fn run(
    settings: &Settings,
    sink: &mut dyn SnapshotSink,
    progress: &dyn Progress,
) -> Result<RunOutcome, CollectError> {
    let collected_at = OffsetDateTime::now_utc();
    let tokens = Arc::new(token_source(settings)?);
    let client = ApiClient::connect(Arc::clone(&tokens), client_options(settings)).await?;
    let collected = Box::pin(collect(settings, sink, progress, &client, &tokens, collected_at)).await;
    collected.map_err(|error| stop::settle(&client, error))
}

/// The run once the client is connected. Any failure it returns stops the run's other
/// requests (see [`stop`]).
async fn collect(
    settings: &Settings,
    sink: &mut dyn SnapshotSink,
    progress: &dyn Progress,
    client: &ApiClient,
    tokens: &TokenSource,
    collected_at: OffsetDateTime,
) -> Result<RunOutcome, CollectError> {
    let usage_before = usage_guard(client, settings.limits.max_api_usage_percent).await?;

    let filter = &settings.company_filter;
    let mut warnings = Vec::new();
    if !filter.is_everyone() {
        warnings.push(Warning::new(
            WARNING_COMPANY_FILTER_MISMATCH,
            format!(
                "company names are set ({}): only users whose email domain matches are written, but \
                 subscriptions are org-wide, so their used seats may not match the users in this snapshot",
                settings.company_names.join(", ")
            ),
        ));
    }

    // Everything that does not depend on another source runs at once; the client's
    // concurrency cap (http.concurrency) bounds the requests in flight:
    // - the org-wide sources (needed before the snapshot header is written);
    // - the first page of the User query (after its describe) and of both assignment queries,
    //   sorted by user for the merge join below. Their later pages are requested one ahead by
    //   the query streams, so these chains keep moving while the header waits for the rest;
    //   the first assignment page also tells whether the object is readable (source_skipped)
    //   before any user is written;
    // - with company names, the org's user count.
    let user_required: Vec<&str> = if filter.is_everyone() {
        USER_REQUIRED.to_vec()
    } else {
        USER_REQUIRED.iter().copied().chain(["Email"]).collect()
    };
    // The User chain is the longest: it is polled first, its requests are first in line for
    // the concurrency cap, which keeps a permit for them (`open_users`), and it reads ahead
    // while the header waits for the org-wide sources (`UserPages`).
    let (header_sources_read, header_wait) = tokio::sync::oneshot::channel::<()>();
    let (
        users,
        (
            organization,
            user_licenses,
            profiles,
            permission_set_licenses,
            package_licenses,
            psl_assignments,
            package_assignments,
            org_user_count,
        ),
    ) = Box::pin(async {
        let users =
            UserPages::open(open_users(client, &user_required, filter), header_wait, stop::holder(client));
        tokio::join!(stop::required(client, users), async {
            let sources = tokio::join!(
                stop::required(client, fetch::<records::Organization>(client, &ORGANIZATION, progress)),
                stop::required(client, fetch::<records::UserLicense>(client, &USER_LICENSE, progress)),
                stop::required(client, fetch::<records::Profile>(client, &PROFILE, progress)),
                optional(
                    fetch::<records::PermissionSetLicense>(client, &PERMISSION_SET_LICENSE, progress),
                    "PermissionSetLicense",
                    progress,
                ),
                optional(
                    fetch::<records::PackageLicense>(client, &PACKAGE_LICENSE, progress),
                    "PackageLicense",
                    progress,
                ),
                optional(
                    AssignmentSource::open(
                        client,
                        "PermissionSetLicenseAssign",
                        "AssigneeId",
                        PERMISSION_SET_LICENSE_ASSIGN_SOQL,
                        |row: records::PermissionSetLicenseAssign| (
                            row.assignee_id,
                            row.permission_set_license_id
                        ),
                    ),
                    "PermissionSetLicenseAssign",
                    progress,
                ),
                optional(
                    AssignmentSource::open(
                        client,
                        "UserPackageLicense",
                        "UserId",
                        USER_PACKAGE_LICENSE_SOQL,
                        |row: records::UserPackageLicense| (row.user_id, row.package_license_id),
                    ),
                    "UserPackageLicense",
                    progress,
                ),
                stop::required(client, count_users(client, filter)),
            );
            drop(header_sources_read);
            sources
        },)
    })
    .await;

    // A failure of any source stopped the others: report it, not theirs ("cancelled").
    let mut failure = stop::FirstFailure::default();
    let sources = (
        failure.keep(organization),
        failure.keep(user_licenses),
        failure.keep(profiles),
        failure.keep(users),
        failure.keep(org_user_count),
        failure.keep(permission_set_licenses),
        failure.keep(package_licenses),
        failure.keep(psl_assignments),
        failure.keep(package_assignments),
    );
    if let Some(error) = failure.into_error() {
        return Err(error.into());
    }
    let (
        Some(organization),
        Some(user_licenses),
        Some(profiles),
        Some(mut users),
        Some(org_user_count),
        Some(permission_set_licenses),
        Some(package_licenses),
        Some(psl_assignments),
        Some(package_assignments),
    ) = sources
    else {
        return Err(CollectError::Internal("a source ended without a result or a failure".to_owned()));
    };

    let organization_row = organization.records.into_iter().next().ok_or(CollectError::NoOrganization)?;
    field_warnings(&mut warnings, "Organization", &organization.missing_optional);

    let mut subscriptions: Vec<Subscription> =
        user_licenses.records.into_iter().map(mapping::user_license).collect();
    field_warnings(&mut warnings, "UserLicense", &user_licenses.missing_optional);
    let permission_set_licenses_read = match permission_set_licenses {
        Optional::Read(fetched) => {
            field_warnings(&mut warnings, "PermissionSetLicense", &fetched.missing_optional);
            subscriptions.extend(fetched.records.into_iter().map(mapping::permission_set_license));
            true
        }
        Optional::Skipped(warning) => {
            warnings.push(warning);
            false
        }
    };
    let package_licenses_read = match package_licenses {
        Optional::Read(fetched) => {
            field_warnings(&mut warnings, "PackageLicense", &fetched.missing_optional);
            subscriptions.extend(fetched.records.into_iter().map(mapping::package_license));
            true
        }
        Optional::Skipped(warning) => {
            warnings.push(warning);
            false
        }
    };
    field_warnings(&mut warnings, "Profile", &profiles.missing_optional);
    let profiles: Vec<Profile> = profiles.records.into_iter().map(mapping::profile).collect();
    let context = UserContext::with_profiles(&profiles);

    // A user's licence ids must point at subscriptions in the snapshot: when the licence
    // object itself was skipped, its assignments are still read (the same requests, the same
    // order checks) but not attached (its `source_skipped` warning already says the snapshot
    // has none of its data).
    let mut psl_assignments = match psl_assignments {
        Optional::Read(source) => Some(source.start(permission_set_licenses_read, progress)?),
        Optional::Skipped(warning) => {
            warnings.push(warning);
            None
        }
    };
    let mut package_assignments = match package_assignments {
        Optional::Read(source) => Some(source.start(package_licenses_read, progress)?),
        Optional::Skipped(warning) => {
            warnings.push(warning);
            None
        }
    };
    field_warnings(&mut warnings, "User", &users.selection.missing_optional);

    let header = SnapshotHeader::new(
        collected_at,
        Source {
            login_url: settings.login_url.as_str().trim_end_matches('/').to_owned(),
            instance_url: client.instance_url().as_str().trim_end_matches('/').to_owned(),
            api_version: client.api_version().to_owned(),
        },
        mapping::organization(organization_row),
        Filter { all: filter.is_everyone(), company_names: settings.company_names.clone() },
        subscriptions,
        profiles,
    );
    let subscriptions_total = header.subscriptions.len() as u64;
    if usage_before.is_none() {
        // `/limits` was refused, so the guard had no figure before the run. The requests of
        // the org-wide sources carried `Sforce-Limit-Info`: check that before any user is
        // written, so an org over its budget costs a dozen requests, not a full read.
        refuse_above(client.latest_usage(), settings.limits.max_api_usage_percent)?;
    }
    sink.begin(&header)?;
    drop(header);

    // The merge join: users arrive in ascending Id, each assignment stream sorted by user id;
    // every user takes the rows with its id, rows of users not fetched are skipped. Memory
    // stays at about one page per stream.
    let mut tally = UserTally::default();
    let mut read = 0u64;
    let mut user_order = IdOrder::new("User", "Id", true);
    while let Some(page) = users.next().await? {
        read += page.records.len() as u64;
        for record in page.records {
            user_order.check(&record.id)?;
            let (permission_set_license_ids, package_license_ids) = tokio::try_join!(
                licences_of(psl_assignments.as_mut(), &record.id, progress),
                licences_of(package_assignments.as_mut(), &record.id, progress),
            )?;
            let licences = UserLicences::new(permission_set_license_ids, package_license_ids);
            let user = mapping::user(record, &context, licences);
            if filter.matches(user.email.as_deref()) {
                tally.count_written(&user);
                sink.user(&user)?;
            } else {
                tally.count_excluded();
            }
        }
        progress.advanced("User", read, page.total_size);
    }
    progress.finished("User", SourceStatus::Read { records: read });
    // The rows after the last user belong to nobody in the snapshot; they are still read to
    // the end (both streams at once), so that every page is order-checked, progress is
    // complete and the requests are those of a full read.
    tokio::try_join!(
        drain(psl_assignments.as_mut(), progress),
        drain(package_assignments.as_mut(), progress)
    )?;

    let rotation = tokens.rotation();
    if rotation.needs_action()
        && let Some(step) = rotation.next_step()
    {
        warnings.push(Warning::new(WARNING_REFRESH_TOKEN_ROTATED, step));
    }

    let mut summary = tally.summary(
        subscriptions_total,
        client.requests_sent(),
        usage_before.map(figures),
        client.latest_usage().map(figures),
    );
    if let Some(count) = org_user_count {
        // With company names the User query only fetched likely matches; what the filter left
        // out is the rest of the org's users.
        summary.users_excluded_by_filter = count.saturating_sub(summary.users_total);
    }
    sink.finish(&summary, &warnings)?;
    Ok(RunOutcome { summary, warnings, rotation: tokens.rotation() })
}

fn figures(usage: ApiUsage) -> ApiUsageFigures {
    ApiUsageFigures { used: usage.used, max: usage.max }
}

/// The token client's options from `http.*` settings.
pub fn auth_options(settings: &Settings) -> AuthOptions {
    AuthOptions {
        timeout: settings.http.timeout(),
        retry: RetryPolicy::with_max_retries(settings.http.max_retries),
    }
}

/// The REST client's options from settings: `api_version`, `http.*` and [`BATCH_SIZE`].
pub fn client_options(settings: &Settings) -> ClientOptions {
    ClientOptions {
        api_version: settings.api_version.clone(),
        timeout: settings.http.timeout(),
        retry: RetryPolicy::with_max_retries(settings.http.max_retries),
        concurrency: settings.http.concurrency,
        batch_size: BATCH_SIZE,
        ..ClientOptions::default()
    }
}

/// The run's token source from settings. A rotated refresh token is never lost: it goes to
/// `refresh_token_file`, or else to [`ROTATED_REFRESH_TOKEN_FILE`] in the state directory.
pub fn token_source(settings: &Settings) -> Result<TokenSource, CollectError> {
    let refresh_token = settings.refresh_token.clone().ok_or_else(|| {
        CollectError::Settings(
            "no refresh token: set refresh_token_file (or SFCONN_REFRESH_TOKEN); get one with \
             `sfconn auth device`"
                .to_owned(),
        )
    })?;
    let credentials = Credentials {
        login_url: settings.login_url.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        refresh_token,
        refresh_token_file: settings.refresh_token_file.clone(),
    };
    let fallback = settings.state_dir.as_ref().map(|dir| dir.join(ROTATED_REFRESH_TOKEN_FILE));
    Ok(TokenSource::new(credentials, auth_options(settings), RequestCounter::default())?
        .keep_rotated_tokens_in(fallback))
}

/// Reads the org's daily API usage and refuses to start above `max_percent`. `/limits` needs
/// "View Setup and Configuration"; when it is refused, the `Sforce-Limit-Info` header of the
/// version discovery is used instead, and with neither the run goes on unguarded.
async fn usage_guard(client: &ApiClient, max_percent: u8) -> Result<Option<ApiUsage>, CollectError> {
    let usage = match client.limits().await {
        Ok(usage) => Some(usage),
        Err(error @ (ApiError::ObjectNotReadable { .. } | ApiError::Rejected { .. }))
            if error.class() == ErrorClass::Unavailable =>
        {
            tracing::warn!(%error, "cannot read /limits; using the Sforce-Limit-Info header");
            client.latest_usage()
        }
        Err(error) => return Err(error.into()),
    };
    refuse_above(usage, max_percent)?;
    Ok(usage)
}

/// [`CollectError::ApiBudgetExceeded`] when `usage` is known and above `max_percent`.
fn refuse_above(usage: Option<ApiUsage>, max_percent: u8) -> Result<(), CollectError> {
    match usage {
        Some(usage) if usage.is_above_percent(max_percent) => Err(CollectError::ApiBudgetExceeded {
            used: usage.used,
            max: usage.max,
            percent: usage.percent(),
            max_percent,
        }),
        _ => Ok(()),
    }
}

/// Describes `spec.object`, selects the visible fields and reads every row, `ORDER BY Id`.
async fn fetch<T>(
    client: &ApiClient,
    spec: &Spec<'_>,
    progress: &dyn Progress,
) -> Result<Fetched<T>, ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    let describe = client.describe(spec.object).await?;
    let selection = select_fields(&describe, spec.required, spec.optional)?;
    let soql = format!("SELECT {} FROM {} ORDER BY Id", selection.select_list(), spec.object);
    let mut records = Vec::new();
    let mut pages = std::pin::pin!(client.query_pages::<T>(soql));
    while let Some(page) = pages.try_next().await? {
        records.extend(page.records);
        progress.advanced(spec.object, records.len() as u64, page.total_size);
    }
    progress.finished(spec.object, SourceStatus::Read { records: records.len() as u64 });
    Ok(Fetched { records, missing_optional: selection.missing_optional })
}

/// `PermissionSetLicenseAssign` sorted by user for the merge join; `Id` last makes the order
/// total, which the `INVALID_QUERY_LOCATOR` restart needs (it re-runs the query and checks the
/// `Id` of the last row already read).
pub const PERMISSION_SET_LICENSE_ASSIGN_SOQL: &str =
    "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign ORDER BY AssigneeId, Id";
/// `UserPackageLicense` sorted by user for the merge join (see above).
pub const USER_PACKAGE_LICENSE_SOQL: &str =
    "SELECT Id, UserId, PackageLicenseId FROM UserPackageLicense ORDER BY UserId, Id";

/// A query's remaining pages.
type PageStream<T> = Pin<Box<dyn Stream<Item = Result<Page<T>, ApiError>> + Send>>;

/// The User selection, the User query's remaining pages and its first page.
type OpenUsers = (sfconn_api::FieldSelection, PageStream<records::User>, Option<Page<records::User>>);

/// Describes `User`, starts the User query and reads its first page. The User chain is the
/// longest, so its requests are first in line for the concurrency cap, which keeps a permit
/// for them while the query runs ([`ApiClient::first_in_line`]).
async fn open_users(
    client: &ApiClient,
    required: &[&str],
    filter: &CompanyFilter,
) -> Result<OpenUsers, ApiError> {
    let client = client.first_in_line();
    let describe = client.describe("User").await?;
    let selection = select_fields(&describe, required, USER_OPTIONAL)?;
    let soql = user_query(&selection.select_list(), filter);
    let mut pages: PageStream<records::User> = Box::pin(client.query_pages::<records::User>(soql));
    let first = pages.try_next().await?;
    Ok((selection, pages, first))
}

/// Pages of the User query held, at most, before the run takes them: enough that the User
/// chain keeps moving while the snapshot header waits for the org-wide sources, few enough
/// that memory stays a constant number of pages (besides these, the one in flight).
const USER_PAGES_HELD: usize = 2;

/// The User query as the run reads it: the field selection, the pages read ahead, then the
/// rest of the stream.
struct UserPages {
    selection: sfconn_api::FieldSelection,
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
    async fn open(
        opening: impl Future<Output = Result<OpenUsers, ApiError>>,
        header_wait: tokio::sync::oneshot::Receiver<()>,
        hold: stop::Holder,
    ) -> Result<UserPages, ApiError> {
        let (selection, rest, first) = opening.await?;
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
    async fn next(&mut self) -> Result<Option<Page<records::User>>, ApiError> {
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

/// One assignment object, read as a stream sorted by user and merged with the users.
struct AssignmentSource {
    object: &'static str,
    pages: PageStream<(String, String)>,
    /// The first page, read while the org-wide sources were, until the merge starts.
    first: Option<Option<Page<(String, String)>>>,
    merge: AssignmentMerge,
    read: u64,
    /// Whether the licence ids go into the snapshot (the licence object itself was read).
    attach: bool,
}

impl AssignmentSource {
    /// Starts the query and takes its first page, so that an unreadable object is known
    /// (`source_skipped`) before any user is written.
    async fn open<T>(
        client: &ApiClient,
        object: &'static str,
        user_field: &'static str,
        soql: &str,
        pair: fn(T) -> (String, String),
    ) -> Result<AssignmentSource, ApiError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut pages: PageStream<(String, String)> =
            Box::pin(client.query_pages::<T>(soql.to_owned()).map_ok(move |page| Page {
                total_size: page.total_size,
                records: page.records.into_iter().map(pair).collect(),
            }));
        let first = pages.try_next().await?;
        Ok(AssignmentSource {
            object,
            pages,
            first: Some(first),
            merge: AssignmentMerge::new(object, user_field),
            read: 0,
            attach: true,
        })
    }

    /// Ready for the merge: the first page goes in (order-checked); `attach` says whether
    /// the licence ids go into the snapshot.
    fn start(mut self, attach: bool, progress: &dyn Progress) -> Result<Self, OutOfOrder> {
        self.attach = attach;
        if let Some(first) = self.first.take() {
            self.accept(first, progress)?;
        }
        Ok(self)
    }

    /// Feeds the stream's next page (or its end) to the merge.
    fn accept(
        &mut self,
        page: Option<Page<(String, String)>>,
        progress: &dyn Progress,
    ) -> Result<(), OutOfOrder> {
        match page {
            Some(page) => {
                self.read += page.records.len() as u64;
                self.merge.push_page(page.records)?;
                progress.advanced(self.object, self.read, page.total_size);
            }
            None => {
                self.merge.end();
                progress.finished(self.object, SourceStatus::Read { records: self.read });
            }
        }
        Ok(())
    }
}

/// The licence ids of `user_id` from one assignment source (none when it was skipped or its
/// licence object was), reading further pages as the merge needs them.
async fn licences_of(
    source: Option<&mut AssignmentSource>,
    user_id: &str,
    progress: &dyn Progress,
) -> Result<Vec<String>, CollectError> {
    let Some(source) = source else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    while source.merge.take(user_id, &mut ids) == Merge::NeedPage {
        let page = source.pages.try_next().await?;
        source.accept(page, progress)?;
    }
    if !source.attach {
        ids.clear();
    }
    Ok(ids)
}

/// Reads an assignment source to its end after the last user, discarding its rows.
async fn drain(source: Option<&mut AssignmentSource>, progress: &dyn Progress) -> Result<(), CollectError> {
    let Some(source) = source else {
        return Ok(());
    };
    source.merge.discard();
    while !source.merge.is_ended() {
        let page = source.pages.try_next().await?;
        source.accept(page, progress)?;
        source.merge.discard();
    }
    Ok(())
}

/// Turns "cannot read this optional object" into a `source_skipped` warning; other errors
/// stay errors (among them another object's: the failure that stopped the run, handed to
/// whichever part of the run asks next, see [`stop`]).
async fn optional<T>(
    fetching: impl Future<Output = Result<T, ApiError>>,
    object: &'static str,
    progress: &dyn Progress,
) -> Result<Optional<T>, ApiError> {
    match fetching.await {
        Ok(value) => Ok(Optional::Read(value)),
        Err(error) if unreadable_object(&error) == Some(object) => {
            progress.finished(object, SourceStatus::Skipped);
            let code = error
                .salesforce_error()
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_else(|| error.to_string());
            Ok(Optional::Skipped(Warning::about(
                WARNING_SOURCE_SKIPPED,
                object,
                format!(
                    "{object} could not be read ({code}); the snapshot has none of its data. Grant the \
                     integration user read access to {object} (\"View Setup and Configuration\") to include it"
                ),
            )))
        }
        Err(error) => Err(error),
    }
}

/// The object a failure says the user cannot read (or see required fields of), if it is one.
fn unreadable_object(error: &ApiError) -> Option<&str> {
    match error {
        ApiError::ObjectNotReadable { object, .. } | ApiError::RequiredFieldsMissing { object, .. } => {
            Some(object)
        }
        _ => None,
    }
}

/// Adds one `field_unavailable` warning per optional field that could not be read.
fn field_warnings(warnings: &mut Vec<Warning>, object: &str, missing: &[String]) {
    for field in missing {
        warnings.push(Warning::about(
            WARNING_FIELD_UNAVAILABLE,
            format!("{object}.{field}"),
            format!(
                "{object}.{field} is not visible to the integration user (field-level security or \
                 edition) and is written as null; grant read access to the field to collect it"
            ),
        ));
    }
}

/// With company names: the org's user count (`SELECT count() FROM User`), to report how many
/// users the filter left out. With `*`: nothing to count.
async fn count_users(client: &ApiClient, filter: &CompanyFilter) -> Result<Option<u64>, ApiError> {
    if filter.is_everyone() {
        return Ok(None);
    }
    let mut pages =
        std::pin::pin!(client.query_pages::<serde_json::Value>("SELECT count() FROM User".to_owned()));
    Ok(pages.next().await.transpose()?.map(|page| page.total_size))
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
        let selection =
            sfconn_api::FieldSelection { fields: vec!["Id".to_owned()], missing_optional: Vec::new() };
        std::future::ready(Ok((selection, Box::pin(futures_util::stream::iter(rest)), Some(user_page("1")))))
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

    #[test]
    fn budget_error_names_the_figures_and_the_setting() {
        let error = CollectError::ApiBudgetExceeded { used: 95, max: 100, percent: 95.0, max_percent: 90 };
        assert_eq!(error.class(), ErrorClass::Temporary);
        let message = error.to_string();
        assert!(message.contains("95 of its 100"), "{message}");
        assert!(message.contains("limits.max_api_usage_percent = 90%"), "{message}");
    }
}

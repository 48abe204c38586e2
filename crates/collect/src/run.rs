//! One org's run, from start to finish: session → API version → the budget guard beside the
//! describes, then (once the guard let the run go) the org-wide sources, the first User page
//! and the first page of each assignment query (concurrently) →
//! the snapshot header → users streamed through the company filter into a [`SnapshotSink`],
//! each joined with its licence assignments ([`crate::merge`]) → the summary.
//! Every call it makes is listed, in order, in `docs/api-calls.md`.
//!
//! A run is a value ([`OrgRun`]) with its own session: its token source, request counter,
//! REST client and run-wide cancellation. Nothing is shared between runs, so a process can
//! hold many at once (one per org); [`run`] is the one-org case.

use std::collections::HashMap;
use std::time::Duration;

use sfconn_api::{ApiClient, ApiError, Cleanups, records};
use sfconn_auth::{Rotation, RunCancel};
use sfconn_config::Settings;
use sfconn_session::Session;
use time::OffsetDateTime;

use crate::budget::{self, GuardGate, UsageBefore};
use crate::error::CollectError;
use crate::feature_licences;
use crate::login_activity::{self, LoginActivity};
use crate::mapping::{self, UserContext, UserLicences};
use crate::merge::{
    AssignmentSource, Assignments, Attach, FROZEN_USER_LOGIN_SOQL, IdOrder, PERMISSION_SET_ASSIGNMENT_SOQL,
    PERMISSION_SET_LICENSE_ASSIGN_SOQL, USER_PACKAGE_LICENSE_SOQL,
};
use crate::output::SnapshotSink;
use crate::progress::{Progress, SourceStatus};
use crate::snapshot::{
    FeatureLicence, Filter, Profile, SnapshotHeader, Source, Subscription, Summary, UserTally,
    WARNING_COMPANY_FILTER_MISMATCH, WARNING_REFRESH_TOKEN_ROTATED, Warning,
};
use crate::sources::{self, Fetched, Optional, OrgUsers};
use crate::stop;
use crate::unused::{self, UnusedRule};
use crate::users::{self, UserPages};

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

/// Runs the connector once for the org of `settings` and streams the snapshot into `sink`
/// ([`OrgRun::collect_into`]).
pub async fn run(
    settings: &Settings,
    sink: &mut dyn SnapshotSink,
    progress: &dyn Progress,
) -> Result<RunOutcome, CollectError> {
    OrgRun::new(settings.clone())?.collect_into(sink, progress).await
}

/// One org's run: its settings and its own session. Creating it sends nothing.
#[derive(Debug)]
pub struct OrgRun {
    settings: Settings,
    session: Session,
    /// Aborts of Bulk API jobs that the run dropped unfinished (failure or Ctrl-C).
    cleanups: Cleanups,
}

/// How long a failed or interrupted run waits for its Bulk API jobs to be aborted.
pub const CLEANUP_WAIT: Duration = Duration::from_secs(10);

impl OrgRun {
    /// A run for the org of `settings`, with a session of its own.
    pub fn new(settings: Settings) -> Result<OrgRun, CollectError> {
        let session = Session::new(&settings)?;
        Ok(OrgRun { settings, session, cleanups: Cleanups::default() })
    }

    /// The run's cancellation: tripped by its first fatal failure, it stops every request of
    /// this run (and of no other). Tripping it from outside stops the run the same way.
    pub fn cancellation(&self) -> &RunCancel {
        self.session.tokens().cancellation()
    }

    /// The run with its Bulk API job aborts kept in `cleanups` (shared with other runs), so
    /// that a caller that drops many runs at once (a fleet stopped by Ctrl-C) can wait for all
    /// of them with [`Cleanups::wait`].
    pub fn with_cleanups(mut self, cleanups: &Cleanups) -> OrgRun {
        self.cleanups = cleanups.clone();
        self
    }

    /// Waits (10 s at most) until the Bulk API query jobs the run dropped unfinished have been
    /// aborted: after Ctrl-C dropped [`OrgRun::collect_into`], so that no job is left running
    /// in the org. A failed run has waited already.
    pub async fn abort_unfinished_jobs(&self) {
        self.cleanups.wait(CLEANUP_WAIT).await;
    }

    /// The HTTP requests this run has sent to Salesforce so far, token requests and retries
    /// included (the figure the summary reports; also known when the run failed).
    pub fn requests_sent(&self) -> u64 {
        self.session.tokens().counter().get()
    }

    /// Runs the connector and streams the snapshot into `sink`. On success the sink has been
    /// finished (the output is published); on failure it has not, and dropping it discards
    /// everything written so far.
    pub async fn collect_into(
        &self,
        sink: &mut dyn SnapshotSink,
        progress: &dyn Progress,
    ) -> Result<RunOutcome, CollectError> {
        let collected_at = OffsetDateTime::now_utc();
        let client = self.session.connect().await?;
        let collected = Box::pin(self.collect(&client, sink, progress, collected_at)).await;
        if collected.is_err() {
            self.cleanups.wait(CLEANUP_WAIT).await;
        }
        collected.map_err(|error| stop::settle(&client, error))
    }

    /// The run once the client is connected. Any failure it returns stops the run's other
    /// requests (see [`stop`]).
    async fn collect(
        &self,
        client: &ApiClient,
        sink: &mut dyn SnapshotSink,
        progress: &dyn Progress,
        collected_at: OffsetDateTime,
    ) -> Result<RunOutcome, CollectError> {
        let settings = &self.settings;
        let max_percent = settings.limits.max_api_usage_percent;
        let (verdict, gate) = budget::gate();
        let guard = UsageBefore::guard(client, max_percent, verdict);

        let mut warnings = filter_warnings(settings);
        let (usage_before, first) =
            Box::pin(read_first(client, settings, progress, guard, &gate, &self.cleanups)).await?;
        let (header, mut assignments, unused_rule, mut users) =
            first.into_header(settings, client, collected_at, &mut warnings, progress)?;
        let subscriptions_total = header.subscriptions.len() as u64;
        usage_before.recheck(client, max_percent)?;
        sink.begin(&header)?;
        let context = UserContext::with_profiles(&header.profiles);
        drop(header);

        let tally = write_users(
            &mut users.pages,
            &mut assignments,
            Derived { activity: users.activity.as_ref(), unused_rule: unused_rule.as_ref() },
            &context,
            settings,
            sink,
            progress,
        )
        .await?;

        let tokens = self.session.tokens();
        let rotation = tokens.rotation();
        if rotation.needs_action()
            && let Some(step) = rotation.next_step()
        {
            warnings.push(Warning::new(WARNING_REFRESH_TOKEN_ROTATED, step));
        }
        let mut summary = tally.summary(
            subscriptions_total,
            client.requests_sent(),
            usage_before.figures(),
            client.latest_usage().map(budget::figures),
        );
        if let OrgUsers::Counted(count) = users.in_org {
            // With company names the User query only fetched likely matches; what the filter
            // left out is the rest of the org's users.
            summary.users_excluded_by_filter = count.saturating_sub(summary.users_total);
        }
        sink.finish(&summary, &warnings)?;
        Ok(RunOutcome { summary, warnings, rotation: tokens.rotation() })
    }
}

/// With company names: the warning that subscriptions are org-wide while users are filtered.
fn filter_warnings(settings: &Settings) -> Vec<Warning> {
    if settings.company_filter.is_everyone() {
        return Vec::new();
    }
    vec![Warning::new(
        WARNING_COMPANY_FILTER_MISMATCH,
        format!(
            "company names are set ({}): only users whose email domain matches are written, but \
             subscriptions are org-wide, so their used seats may not match the users in this snapshot",
            settings.company_names.join(", ")
        ),
    )]
}

/// Everything read before the snapshot header can be written.
struct FirstRead {
    organization: Fetched<records::Organization>,
    user_licenses: Fetched<records::UserLicense>,
    profiles: Fetched<records::Profile>,
    permission_set_licenses: Optional<Fetched<records::PermissionSetLicense>>,
    package_licenses: Optional<Fetched<records::PackageLicense>>,
    psl_assignments: Optional<AssignmentSource>,
    package_assignments: Optional<AssignmentSource>,
    frozen_logins: Optional<AssignmentSource>,
    /// Permission set id → `LicenseId` (the permission sets that need a licence).
    permission_sets: Optional<unused::LicensedSets>,
    /// Permission set group id → its permission sets.
    group_components: Optional<HashMap<String, Vec<String>>>,
    set_assignments: Optional<AssignmentSource>,
    feature_licences: Vec<FeatureLicence>,
    /// `None` when login activity is off (`login_activity_days` 0).
    login_activity: Option<Optional<LoginActivity>>,
    users: UserPages,
    org_users: OrgUsers,
}

/// The User stream and what the summary needs to know about the org's users.
struct Users {
    pages: UserPages,
    in_org: OrgUsers,
    /// The login activity to attach to each user; `None`: not collected.
    activity: Option<LoginActivity>,
}

/// Reads everything that does not depend on another source at once; the client's
/// concurrency cap (http.concurrency) bounds the requests in flight:
/// - the budget guard's `/limits` call, sent first, beside the six describes; every query waits
///   at `gate` until the guard has let the run go, so an org over its budget is refused before
///   any row (User data least of all) is asked for, at the cost of the describes in flight;
/// - the org-wide sources (needed before the snapshot header is written);
/// - the first page of the User query (after its describe) and of every assignment query,
///   sorted by user for the merge join. Their later pages are requested one ahead by the query
///   streams, so these chains keep moving while the header waits for the rest; the first
///   assignment page also tells whether the object is readable (source_skipped) before any
///   user is written;
/// - with company names, the org's user count.
///
/// The User chain is the longest: it is polled first, its requests are first in line for the
/// concurrency cap, which keeps a permit for them ([`users::open_users`]), and it reads ahead
/// while the header waits for the org-wide sources ([`UserPages`]).
async fn read_first(
    client: &ApiClient,
    settings: &Settings,
    progress: &dyn Progress,
    guard: impl Future<Output = Result<UsageBefore, CollectError>>,
    gate: &GuardGate,
    cleanups: &Cleanups,
) -> Result<(UsageBefore, FirstRead), CollectError> {
    let filter = &settings.company_filter;
    let (header_sources_read, header_wait) = tokio::sync::oneshot::channel::<()>();
    let (feature_fields, feature_fields_named) = tokio::sync::oneshot::channel();
    let users = UserPages::open(
        users::open_users(client, filter, gate, feature_fields),
        header_wait,
        stop::holder(client),
    );
    let (
        guarded,
        users,
        (
            organization,
            user_licenses,
            profiles,
            permission_set_licenses,
            package_licenses,
            psl_assignments,
            package_assignments,
            frozen_logins,
            permission_sets_and_assignments,
            group_components,
            feature_licences,
            org_users,
            login_activity,
        ),
    ) = tokio::join!(guard, stop::required(client, users), async {
        let sources = tokio::join!(
            stop::required(client, sources::fetch(client, &sources::ORGANIZATION, gate, progress)),
            stop::required(client, sources::fetch(client, &sources::USER_LICENSE, gate, progress)),
            stop::required(client, sources::fetch(client, &sources::PROFILE, gate, progress)),
            sources::optional(
                sources::fetch(client, &sources::PERMISSION_SET_LICENSE, gate, progress),
                "PermissionSetLicense",
                progress,
            ),
            sources::optional(
                sources::fetch(client, &sources::PACKAGE_LICENSE, gate, progress),
                "PackageLicense",
                progress,
            ),
            sources::optional(
                AssignmentSource::open(
                    client,
                    gate,
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
            sources::optional(
                AssignmentSource::open(
                    client,
                    gate,
                    "UserPackageLicense",
                    "UserId",
                    USER_PACKAGE_LICENSE_SOQL,
                    |row: records::UserPackageLicense| (row.user_id, row.package_license_id),
                ),
                "UserPackageLicense",
                progress,
            ),
            sources::optional(
                AssignmentSource::open(
                    client,
                    gate,
                    "UserLogin",
                    "UserId",
                    FROZEN_USER_LOGIN_SOQL,
                    |row: records::UserLogin| (row.user_id, row.id),
                ),
                "UserLogin",
                progress,
            ),
            // `PermissionSetAssignment` filters on `PermissionSet` fields: it is asked for once
            // `PermissionSet` was read, so an integration user who cannot read that object gets
            // two warnings, not a refused query that would stop the run.
            async {
                let sets = unused::optional(
                    client,
                    unused::read_permission_sets(client, gate, progress),
                    "PermissionSet",
                    progress,
                )
                .await?;
                let assignments = match sets {
                    Optional::Read(_) => {
                        unused::optional(
                            client,
                            AssignmentSource::open(
                                client,
                                gate,
                                "PermissionSetAssignment",
                                "AssigneeId",
                                PERMISSION_SET_ASSIGNMENT_SOQL,
                                unused::granted_by,
                            ),
                            "PermissionSetAssignment",
                            progress,
                        )
                        .await?
                    }
                    Optional::Skipped(_) => unused::skipped_without_permission_sets(client, progress),
                };
                Ok::<_, ApiError>((sets, assignments))
            },
            unused::optional(
                client,
                unused::read_group_components(client, gate, progress),
                "PermissionSetGroupComponent",
                progress,
            ),
            stop::required(client, feature_licences::count_used(client, gate, feature_fields_named)),
            stop::required(client, sources::count_users(client, filter, gate)),
            async {
                let days = settings.login_activity_days;
                if days == 0 {
                    return Ok(None);
                }
                let threshold = settings.login_activity_bulk_threshold;
                let reading = login_activity::collect(client, days, threshold, gate, cleanups, progress);
                sources::optional(reading, login_activity::OBJECT, progress).await.map(Some)
            },
        );
        drop(header_sources_read);
        sources
    });

    // A failure of any source stopped the others: report it, not theirs ("cancelled").
    let mut failure = stop::FirstFailure::default();
    // A refusal of the guard kept every query back: it is what the run reports. The guard
    // itself may have been stopped by a source that failed first (a describe refused while
    // `/limits` was in flight): then that source's failure is the one to report.
    let usage_before = match guarded {
        Ok(usage) => Some(usage),
        Err(CollectError::Api(error)) if error.is_cancelled() => failure.keep::<UsageBefore>(Err(error)),
        Err(refused) => return Err(refused),
    };
    let read = (
        usage_before,
        failure.keep(organization),
        failure.keep(user_licenses),
        failure.keep(profiles),
        failure.keep(users),
        failure.keep(org_users),
        failure.keep(permission_set_licenses),
        failure.keep(package_licenses),
        failure.keep(psl_assignments),
        failure.keep(package_assignments),
        failure.keep(frozen_logins),
        failure.keep(permission_sets_and_assignments),
        failure.keep(group_components),
        failure.keep(feature_licences),
        failure.keep(login_activity),
    );
    if let Some(error) = failure.into_error() {
        return Err(error.into());
    }
    let (
        Some(usage_before),
        Some(organization),
        Some(user_licenses),
        Some(profiles),
        Some(users),
        Some(org_users),
        Some(permission_set_licenses),
        Some(package_licenses),
        Some(psl_assignments),
        Some(package_assignments),
        Some(frozen_logins),
        Some((permission_sets, set_assignments)),
        Some(group_components),
        Some(feature_licences),
        Some(login_activity),
    ) = read
    else {
        return Err(CollectError::Internal("a source ended without a result or a failure".to_owned()));
    };
    Ok((
        usage_before,
        FirstRead {
            organization,
            user_licenses,
            profiles,
            permission_set_licenses,
            package_licenses,
            psl_assignments,
            package_assignments,
            frozen_logins,
            permission_sets,
            group_components,
            set_assignments,
            feature_licences,
            login_activity,
            users,
            org_users,
        },
    ))
}

impl FirstRead {
    /// The snapshot header, the assignment sources ready for the merge, the unused-assignment
    /// rule (`None`: not computed, a source it needs was skipped) and the User stream.
    /// Warnings are added in the order of the sources.
    fn into_header(
        self,
        settings: &Settings,
        client: &ApiClient,
        collected_at: OffsetDateTime,
        warnings: &mut Vec<Warning>,
        progress: &dyn Progress,
    ) -> Result<(SnapshotHeader, [Assignments; 4], Option<UnusedRule>, Users), CollectError> {
        let organization = self
            .organization
            .into_records(warnings)
            .into_iter()
            .next()
            .ok_or(CollectError::NoOrganization)?;
        let mut subscriptions: Vec<Subscription> =
            self.user_licenses.into_records(warnings).into_iter().map(mapping::user_license).collect();
        let psl_attach = add_subscriptions(
            self.permission_set_licenses,
            mapping::permission_set_license,
            &mut subscriptions,
            warnings,
        );
        let package_attach =
            add_subscriptions(self.package_licenses, mapping::package_license, &mut subscriptions, warnings);
        let profiles: Vec<Profile> =
            self.profiles.into_records(warnings).into_iter().map(mapping::profile).collect();
        let psl_assignments = Assignments::start(self.psl_assignments, psl_attach, warnings, progress)?;
        let package_assignments =
            Assignments::start(self.package_assignments, package_attach, warnings, progress)?;
        let frozen_logins = Assignments::start(self.frozen_logins, Attach::Ids, warnings, progress)?;
        let permission_sets = self.permission_sets.read(warnings);
        let group_components = self.group_components.read(warnings);
        let set_assignments = Assignments::start(self.set_assignments, Attach::Ids, warnings, progress)?;
        // Computed only when every source the rule needs was read (docs/unused-assignments.md).
        let unused_rule = match (permission_sets, group_components) {
            (Some(permission_sets), Some(group_components))
                if psl_attach == Attach::Ids
                    && !matches!(psl_assignments, Assignments::Skipped)
                    && !matches!(set_assignments, Assignments::Skipped) =>
            {
                Some(UnusedRule::new(
                    permission_sets,
                    group_components,
                    &subscriptions,
                    &settings.unused_assignment_exception_keys,
                ))
            }
            _ => None,
        };
        let assignments = [psl_assignments, package_assignments, frozen_logins, set_assignments];
        sources::field_warnings(warnings, "User", &self.users.selection.missing_optional);

        let mut organization = mapping::organization(organization);
        organization.feature_licences = self.feature_licences;
        let activity = match self.login_activity {
            None => None,
            Some(source) => {
                let read = source.read(warnings);
                organization.login_activity = Some(read.as_ref().map(LoginActivity::summary));
                read
            }
        };
        let header = SnapshotHeader::new(
            collected_at,
            Source {
                login_url: settings.login_url.as_str().trim_end_matches('/').to_owned(),
                instance_url: client.instance_url().as_str().trim_end_matches('/').to_owned(),
                api_version: client.api_version().to_owned(),
            },
            organization,
            Filter {
                all: settings.company_filter.is_everyone(),
                company_names: settings.company_names.clone(),
            },
            subscriptions,
            profiles,
        );
        Ok((header, assignments, unused_rule, Users { pages: self.users, in_org: self.org_users, activity }))
    }
}

/// Adds the subscriptions of an optional licence object (or its `source_skipped` warning)
/// and says whether its assignments are attached to users.
fn add_subscriptions<T>(
    source: Optional<Fetched<T>>,
    map: fn(T) -> Subscription,
    subscriptions: &mut Vec<Subscription>,
    warnings: &mut Vec<Warning>,
) -> Attach {
    match source.read(warnings) {
        Some(fetched) => {
            subscriptions.extend(fetched.into_records(warnings).into_iter().map(map));
            Attach::Ids
        }
        None => Attach::Nothing,
    }
}

/// What each user's fields are derived from besides its record and its assignments; `None`:
/// not collected (login activity off or unreadable) or not computed (a source of the
/// unused-assignment rule skipped).
struct Derived<'a> {
    activity: Option<&'a LoginActivity>,
    unused_rule: Option<&'a UnusedRule>,
}

/// The merge join (see [`crate::merge`]): users arrive in ascending Id, each takes its rows
/// from every assignment stream, and goes through the company filter into the sink. Memory
/// stays at about one page per stream.
async fn write_users(
    users: &mut UserPages,
    [psl_assignments, package_assignments, frozen_logins, set_assignments]: &mut [Assignments; 4],
    Derived { activity, unused_rule }: Derived<'_>,
    context: &UserContext,
    settings: &Settings,
    sink: &mut dyn SnapshotSink,
    progress: &dyn Progress,
) -> Result<UserTally, CollectError> {
    let filter = &settings.company_filter;
    let mut tally = UserTally::default();
    let mut read = 0u64;
    let mut user_order = IdOrder::new("User", "Id", true);
    while let Some(page) = users.next().await? {
        read += page.records.len() as u64;
        for record in page.records {
            user_order.check(&record.id)?;
            let (permission_set_license_ids, package_license_ids, frozen, permission_sets) = tokio::try_join!(
                psl_assignments.licences_of(&record.id, progress),
                package_assignments.licences_of(&record.id, progress),
                frozen_logins.frozen(&record.id, progress),
                set_assignments.licences_of(&record.id, progress),
            )?;
            let licences = UserLicences::new(permission_set_license_ids, package_license_ids);
            let mut user = mapping::user(record, context, licences, frozen);
            user.unused_permission_set_license_ids = unused_rule.map(|rule| {
                rule.unused(&user.permission_set_license_ids, &permission_sets, user.profile_id.as_deref())
            });
            if let Some(activity) = activity {
                let of_user = activity.of(&user.id);
                user.logins_in_window = Some(of_user.logins);
                user.last_login_application = of_user.last_application;
                user.last_login_type = of_user.last_login_type;
            }
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
    // the end (all streams at once).
    tokio::try_join!(
        psl_assignments.drain(progress),
        package_assignments.drain(progress),
        frozen_logins.drain(progress),
        set_assignments.drain(progress),
    )?;
    Ok(tally)
}

//! The org-wide sources of a run (Organization, UserLicense, Profile, PermissionSetLicense,
//! PackageLicense, the org's user count): each described, its visible fields selected, read
//! whole, `ORDER BY Id`. An optional source the integration user cannot read becomes a
//! `source_skipped` warning ([`Optional`]); an optional field it cannot see, a
//! `field_unavailable` warning ([`Fetched::into_records`]).

use std::pin::Pin;

use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use sfconn_api::{ApiClient, ApiError, Page, select_fields};
use sfconn_filter::CompanyFilter;

use crate::budget::GuardGate;
use crate::progress::{Progress, SourceStatus};
use crate::snapshot::{WARNING_FIELD_UNAVAILABLE, WARNING_SOURCE_SKIPPED, Warning};

/// A query's remaining pages.
pub(crate) type PageStream<T> = Pin<Box<dyn Stream<Item = Result<Page<T>, ApiError>> + Send>>;

/// One source's description for the generic fetch.
pub(crate) struct Spec<'a> {
    object: &'static str,
    required: &'a [&'a str],
    optional: &'a [&'a str],
}

pub(crate) const ORGANIZATION: Spec<'static> = Spec {
    object: "Organization",
    required: &["Id", "Name"],
    optional: &["OrganizationType", "IsSandbox", "InstanceName"],
};
pub(crate) const USER_LICENSE: Spec<'static> = Spec {
    object: "UserLicense",
    required: &["Id", "Name"],
    optional: &["MasterLabel", "LicenseDefinitionKey", "Status", "TotalLicenses", "UsedLicenses"],
};
pub(crate) const PROFILE: Spec<'static> = Spec {
    object: "Profile",
    required: &["Id", "Name"],
    optional: &["UserType", "UserLicenseId", "Description"],
};
pub(crate) const PERMISSION_SET_LICENSE: Spec<'static> = Spec {
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
pub(crate) const PACKAGE_LICENSE: Spec<'static> = Spec {
    object: "PackageLicense",
    required: &["Id"],
    optional: &["NamespacePrefix", "AllowedLicenses", "UsedLicenses", "Status", "ExpirationDate"],
};

/// Records of one source and the optional fields it could not read.
pub(crate) struct Fetched<T> {
    object: &'static str,
    records: Vec<T>,
    missing_optional: Vec<String>,
}

impl<T> Fetched<T> {
    /// The records; each optional field that could not be read adds a `field_unavailable`
    /// warning.
    pub(crate) fn into_records(self, warnings: &mut Vec<Warning>) -> Vec<T> {
        field_warnings(warnings, self.object, &self.missing_optional);
        self.records
    }
}

/// A source that is optional: its data, or the `source_skipped` warning saying why not.
pub(crate) enum Optional<T> {
    Read(T),
    Skipped(Warning),
}

impl<T> Optional<T> {
    /// The data of a source that was read; a skipped source adds its warning instead.
    pub(crate) fn read(self, warnings: &mut Vec<Warning>) -> Option<T> {
        match self {
            Optional::Read(value) => Some(value),
            Optional::Skipped(warning) => {
                warnings.push(warning);
                None
            }
        }
    }
}

/// Describes `spec.object`, selects the visible fields and, once the budget guard let the run
/// go (`gate`), reads every row, `ORDER BY Id`.
pub(crate) async fn fetch<T>(
    client: &ApiClient,
    spec: &Spec<'_>,
    gate: &GuardGate,
    progress: &dyn Progress,
) -> Result<Fetched<T>, ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    let describe = client.describe(spec.object).await?;
    let selection = select_fields(&describe, spec.required, spec.optional)?;
    let soql = format!("SELECT {} FROM {} ORDER BY Id", selection.select_list(), spec.object);
    let mut records = Vec::new();
    read_all(client, spec.object, soql, gate, progress, |record| records.push(record)).await?;
    Ok(Fetched { object: spec.object, records, missing_optional: selection.missing_optional })
}

/// Once the budget guard let the run go (`gate`), reads every page of `soql` (a query of
/// `object`), handing each record to `each` and telling `progress`.
pub(crate) async fn read_all<T>(
    client: &ApiClient,
    object: &'static str,
    soql: String,
    gate: &GuardGate,
    progress: &dyn Progress,
    mut each: impl FnMut(T),
) -> Result<(), ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    gate.open().await?;
    let mut read = 0u64;
    let mut pages = std::pin::pin!(client.query_pages::<T>(soql));
    while let Some(page) = pages.try_next().await? {
        read += page.records.len() as u64;
        page.records.into_iter().for_each(&mut each);
        progress.advanced(object, read, page.total_size);
    }
    progress.finished(object, SourceStatus::Read { records: read });
    Ok(())
}

/// Turns "cannot read this optional object" into a `source_skipped` warning; other errors
/// stay errors (among them another object's: the failure that stopped the run, handed to
/// whichever part of the run asks next, see [`crate::stop`]).
pub(crate) async fn optional<T>(
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
                     integration user read access to {object} ({}) to include it",
                    permission_for(object)
                ),
            )))
        }
        Err(error) => Err(error),
    }
}

/// The permission that lets the integration user read `object` (docs/api-calls.md).
pub(crate) fn permission_for(object: &str) -> &'static str {
    match object {
        // Object Reference, "UserLogin": "you need the UserPermissions.ManageUsers permission".
        "LoginHistory" | "UserLogin" => "\"Manage Users\"",
        _ => "\"View Setup and Configuration\"",
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
pub(crate) fn field_warnings(warnings: &mut Vec<Warning>, object: &str, missing: &[String]) {
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

/// How many users the org has, as far as the run needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrgUsers {
    /// Not counted: with `*` every user is fetched, so the filter left nobody out.
    NotCounted,
    /// With company names: the org's user count (`SELECT count() FROM User`), to report how
    /// many users the filter left out.
    Counted(u64),
}

/// Counts the org's users when the company filter leaves some out ([`OrgUsers`]).
pub(crate) async fn count_users(
    client: &ApiClient,
    filter: &CompanyFilter,
    gate: &GuardGate,
) -> Result<OrgUsers, ApiError> {
    if filter.is_everyone() {
        return Ok(OrgUsers::NotCounted);
    }
    gate.open().await?;
    let mut pages =
        std::pin::pin!(client.query_pages::<serde_json::Value>("SELECT count() FROM User".to_owned()));
    Ok(match pages.next().await.transpose()? {
        Some(page) => OrgUsers::Counted(page.total_size),
        None => OrgUsers::NotCounted,
    })
}

//! The parts of a snapshot document (docs/contract.md §5, `snapshot.schema.json`, `schema_version` "1")
//! that the store keeps. The schema is the public contract between `collect` and the store, so
//! the store reads the JSON document rather than `collect`'s Rust types: a file written by any
//! earlier run imports the same way as a run handed over in memory.

use serde::Deserialize;

use crate::StoreError;

/// The only `schema_version` this store reads.
pub const SUPPORTED_SCHEMA_VERSION: &str = "1";

/// A snapshot document as written by `sfconn collect -f json`. Unknown fields are ignored here
/// (the schema itself forbids them at the top level; the store is lenient on what it doesn't keep).
#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotDoc {
    pub schema_version: String,
    pub generator: Generator,
    pub collected_at: String,
    pub source: Source,
    pub organization: Organization,
    pub filter: Filter,
    pub subscriptions: Vec<Subscription>,
    pub profiles: Vec<Profile>,
    pub users: Vec<User>,
    /// Kept verbatim as JSON in the `snapshots` table.
    pub summary: serde_json::Map<String, serde_json::Value>,
    pub warnings: Vec<Warning>,
}

/// A key that is present (even as `null`) is `Some`; serde's `default` makes an absent one `None`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

impl SnapshotDoc {
    /// What the document says of login activity.
    pub fn login_activity_state(&self) -> LoginActivityState {
        self.organization.login_activity_state()
    }
}

impl Organization {
    /// What `organization.login_activity` says of login activity.
    pub fn login_activity_state(&self) -> LoginActivityState {
        match self.login_activity {
            None => LoginActivityState::NotCollected,
            Some(None) => LoginActivityState::Unreadable,
            Some(Some(activity)) => LoginActivityState::Collected(activity),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    pub login_url: String,
    pub instance_url: String,
    pub api_version: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub edition: Option<String>,
    pub is_sandbox: bool,
    pub instance_name: Option<String>,
    /// The org's feature licences (`User.UserPermissions*` checkboxes); `None` when the
    /// snapshot does not list them (written before sfconn read them).
    #[serde(default)]
    pub feature_licences: Option<Vec<FeatureLicence>>,
    /// `organization.login_activity`: absent, `null` or an object (see [`LoginActivityState`]).
    /// It sits under `organization` because the contract's schema allows no new top-level key.
    #[serde(default, deserialize_with = "present")]
    pub login_activity: Option<Option<LoginActivity>>,
}

/// A feature licence of `organization.feature_licences`: seats used (active users with the
/// checkbox on) and, when the org reports it, bought.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct FeatureLicence {
    pub name: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    pub used: i64,
    #[serde(default)]
    pub total: Option<i64>,
}

/// The snapshot's `login_activity`: how the users' `logins_in_window` were counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct LoginActivity {
    /// The window, in days before `collected_at`.
    pub days: i64,
    /// `rest` or `bulk`.
    pub path: LoginActivityPath,
    /// `LoginHistory` rows read.
    pub rows: i64,
}

/// Where the `LoginHistory` rows came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginActivityPath {
    Rest,
    Bulk,
}

impl LoginActivityPath {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginActivityPath::Rest => "rest",
            LoginActivityPath::Bulk => "bulk",
        }
    }
}

/// What a snapshot says of login activity: `organization.login_activity` absent (not
/// collected), `null` (`LoginHistory` unreadable) or an object (collected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginActivityState {
    NotCollected,
    Unreadable,
    Collected(LoginActivity),
}

impl LoginActivityState {
    /// The `snapshots.login_activity_state` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LoginActivityState::NotCollected => "not_collected",
            LoginActivityState::Unreadable => "unreadable",
            LoginActivityState::Collected(_) => "collected",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Filter {
    /// True when the run collected every user (`*`).
    pub all: bool,
    pub company_names: Vec<String>,
}

/// Where a subscription comes from: the three Salesforce licence objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
pub enum SubscriptionSource {
    UserLicense,
    PermissionSetLicense,
    PackageLicense,
}

impl SubscriptionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionSource::UserLicense => "UserLicense",
            SubscriptionSource::PermissionSetLicense => "PermissionSetLicense",
            SubscriptionSource::PackageLicense => "PackageLicense",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<SubscriptionSource> {
        match text {
            "UserLicense" => Some(SubscriptionSource::UserLicense),
            "PermissionSetLicense" => Some(SubscriptionSource::PermissionSetLicense),
            "PackageLicense" => Some(SubscriptionSource::PackageLicense),
            _ => None,
        }
    }
}

impl std::fmt::Display for SubscriptionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub source: SubscriptionSource,
    pub name: String,
    pub label: Option<String>,
    pub key: Option<String>,
    pub status: Option<String>,
    pub total: Option<i64>,
    pub used: Option<i64>,
    pub unlimited: bool,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub user_type: Option<String>,
    pub user_license_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_domain: Option<String>,
    pub name: Option<String>,
    pub active: bool,
    pub user_type: Option<String>,
    pub account_kind: String,
    pub profile_id: Option<String>,
    pub user_license_id: Option<String>,
    pub permission_set_license_ids: Vec<String>,
    pub package_license_ids: Vec<String>,
    pub last_login_at: Option<String>,
    pub created_at: Option<String>,
    /// Salesforce's `FederationIdentifier` (single sign-on id); optional in the document.
    #[serde(default)]
    pub federation_id: Option<String>,
    /// `UserLogin.IsFrozen`; `None` when unknown (not read, or not in the snapshot).
    #[serde(default)]
    pub frozen: Option<bool>,
    /// The feature licences the user holds; `None` when the snapshot does not say.
    #[serde(default)]
    pub feature_licences: Option<Vec<String>>,
    /// Successful logins in the login-activity window; `None` when not collected.
    #[serde(default)]
    pub logins_in_window: Option<i64>,
    /// Application and type of the user's last successful login in the window.
    #[serde(default)]
    pub last_login_application: Option<String>,
    #[serde(default)]
    pub last_login_type: Option<String>,
    /// The permission set licences assigned to this user that none of the user's permission
    /// sets uses (docs/unused-assignments.md); `None` when not computed.
    #[serde(default)]
    pub unused_permission_set_license_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl SnapshotDoc {
    /// Parses a snapshot document; a decoding error names the JSON path of the bad field.
    pub fn from_json(json: &[u8]) -> Result<SnapshotDoc, StoreError> {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let doc: SnapshotDoc = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let at = error.path().to_string();
            StoreError::InvalidSnapshot { at, source: error.into_inner() }
        })?;
        deserializer
            .end()
            .map_err(|source| StoreError::InvalidSnapshot { at: "(after the document)".into(), source })?;
        if doc.schema_version != SUPPORTED_SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchemaVersion { found: doc.schema_version });
        }
        Ok(doc)
    }
}

//! Hand-built snapshot parts and settings for a simulated org, shared by the collect crate's
//! tests.

use sfconn_collect::snapshot::{
    AccountKind, FeatureLicence, Filter, Organization, Profile, SnapshotHeader, Source, Subscription,
    SubscriptionSource, User,
};
use time::macros::datetime;

/// A subscription with only an id, a source, a name and status `Active`.
pub fn subscription(id: &str, source: SubscriptionSource, name: &str) -> Subscription {
    Subscription {
        id: id.into(),
        source,
        name: name.into(),
        label: None,
        key: None,
        status: Some("Active".into()),
        total: None,
        used: None,
        unlimited: false,
        expires_at: None,
    }
}

/// A user with only an id and a username; active, kind `other`.
pub fn blank_user(id: &str, username: &str) -> User {
    User {
        id: id.into(),
        username: username.into(),
        email: None,
        email_domain: None,
        name: None,
        first_name: None,
        last_name: None,
        alias: None,
        active: true,
        user_type: None,
        account_kind: AccountKind::Other,
        profile_id: None,
        user_license_id: None,
        permission_set_license_ids: vec![],
        package_license_ids: vec![],
        last_login_at: None,
        created_at: None,
        company_name: None,
        department: None,
        title: None,
        city: None,
        country: None,
        country_code: None,
        federation_id: None,
        frozen: None,
        feature_licences: vec![],
        logins_in_window: None,
        last_login_application: None,
        last_login_type: None,
        unused_permission_set_license_ids: None,
    }
}

/// The header of org "Acme Corp" collected at 2024-01-15T10:30:00Z through
/// login.salesforce.com, with no company filter.
pub fn acme_header(subscriptions: Vec<Subscription>, profiles: Vec<Profile>) -> SnapshotHeader {
    SnapshotHeader::new(
        datetime!(2024-01-15 10:30:00 UTC),
        Source {
            login_url: "https://login.salesforce.com".into(),
            instance_url: "https://acme.my.salesforce.com".into(),
            api_version: "62.0".into(),
        },
        Organization {
            id: "00D0X0000000001EAA".into(),
            name: "Acme Corp".into(),
            edition: None,
            is_sandbox: false,
            instance_name: None,
            feature_licences: vec![
                FeatureLicence {
                    name: "MarketingUser".into(),
                    field: "UserPermissionsMarketingUser".into(),
                    label: Some("Marketing User".into()),
                    used: 12,
                    total: Some(20),
                },
                FeatureLicence {
                    name: "SupportUser".into(),
                    field: "UserPermissionsSupportUser".into(),
                    label: Some("Service Cloud User".into()),
                    used: 3,
                    total: None,
                },
            ],
            login_activity: None,
        },
        Filter { all: true, company_names: vec![] },
        subscriptions,
        profiles,
    )
}

/// Settings as the CLI would load them, from the org's environment plus `extra`.
pub fn settings(org: &sfconn_testkit::SimulatedOrg, extra: &[(&str, &str)]) -> sfconn_config::Settings {
    let dir = tempfile::tempdir().unwrap();
    let mut env = sfconn_config::MapEnvironment::in_dir(dir.path());
    for (name, value) in org.sfconn_env() {
        env = env.with(&name, &value);
    }
    env = env.with(sfconn_testkit::ONE_RETRY_ENV.0, sfconn_testkit::ONE_RETRY_ENV.1);
    for (name, value) in extra {
        env = env.with(name, value);
    }
    sfconn_config::load_with(&sfconn_config::Flags::default(), sfconn_config::Need::Everything, &env)
        .unwrap()
        .settings
}

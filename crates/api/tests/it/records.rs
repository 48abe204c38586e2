//! Every record type decoded from a query response: relationships, null lookups, `+0000`
//! datetimes, dates, `-1` numbers, absent and null fields.

use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use sfconn_api::records::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer};

use crate::common::*;

async fn serve<T: DeserializeOwned + Send + 'static>(soql: &str, fixture: &str) -> Vec<T> {
    let server: MockServer = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(query_param("q", soql))
        .respond_with(raw_json_ok(fixture))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    client.query::<T>(soql.to_owned()).try_collect().await.unwrap()
}

fn datetime(text: &str) -> Option<SfDateTime> {
    Some(SfDateTime::parse(text).unwrap())
}

#[tokio::test]
async fn users_with_relationships_null_lookups_and_datetimes() {
    let users: Vec<User> = serve(
        "SELECT Id, Username, Email, Profile.UserLicenseId, LastLoginDate FROM User ORDER BY Id",
        include_str!("../fixtures/users.json"),
    )
    .await;
    assert_eq!(users.len(), 4);

    let admin = &users[0];
    assert_eq!(admin.id, "0055g00000AbCdEAAV");
    assert_eq!(admin.username, "ada.admin@northwind-traders.test");
    assert_eq!(admin.email.as_deref(), Some("ada.admin@northwind-traders.test"));
    assert_eq!(admin.name.as_deref(), Some("Ada Admin"));
    assert_eq!((admin.first_name.as_deref(), admin.last_name.as_deref()), (Some("Ada"), Some("Admin")));
    assert_eq!(admin.alias.as_deref(), Some("aadmin"));
    assert!(admin.is_active);
    assert_eq!(admin.user_type.as_deref(), Some("Standard"));
    assert_eq!(admin.profile_id.as_deref(), Some("00e5g000001AdMnAAC"));
    assert_eq!(admin.profile, Some(UserProfileRef { user_license_id: Some("1005g000000SfDcAAK".into()) }));
    assert_eq!(admin.last_login_date.unwrap().to_rfc3339_utc(), "2024-01-15T10:30:00Z");
    assert_eq!(admin.created_date, datetime("2019-06-03T08:12:45Z"));
    assert_eq!(admin.company_name.as_deref(), Some("Northwind Traders"));
    assert_eq!(admin.department.as_deref(), Some("IT"));
    assert_eq!(admin.title.as_deref(), Some("Salesforce Administrator"));
    assert_eq!(admin.city.as_deref(), Some("Lyon"));
    assert_eq!(admin.country.as_deref(), Some("France"));
    assert_eq!(admin.country_code.as_deref(), Some("FR"));
    assert_eq!(admin.federation_identifier.as_deref(), Some("ada@northwind-traders.test"));

    let partner = &users[1];
    assert!(!partner.is_active);
    assert_eq!(partner.user_type.as_deref(), Some("PowerPartner"));
    assert_eq!(partner.profile, Some(UserProfileRef { user_license_id: None }));
    assert_eq!(partner.last_login_date, None, "never logged in");
    assert_eq!(partner.company_name, None);

    let automated = &users[2];
    assert_eq!(automated.email, None);
    assert_eq!(automated.profile_id, None);
    assert_eq!(automated.profile, None, "null lookup");

    let guest = &users[3];
    assert_eq!(guest.last_login_date.unwrap().to_rfc3339_utc(), "2024-02-29T23:05:07Z");
    assert_eq!(guest.federation_identifier, None, "absent from the SELECT");
    assert_eq!(guest.country_code, None);
}

#[tokio::test]
async fn the_organization() {
    let orgs: Vec<Organization> = serve(
        "SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization",
        include_str!("../fixtures/organization.json"),
    )
    .await;
    assert_eq!(
        orgs,
        [Organization {
            id: "00D5g000000AbCdEAK".into(),
            name: "Northwind Traders".into(),
            organization_type: Some("Enterprise Edition".into()),
            is_sandbox: false,
            instance_name: Some("EU42".into()),
        }]
    );
}

#[tokio::test]
async fn user_licenses_disabled_and_zero_totals() {
    let licenses: Vec<UserLicense> =
        serve("SELECT Id FROM UserLicense ORDER BY Id", include_str!("../fixtures/user_licenses.json")).await;
    assert_eq!(licenses.len(), 3);
    assert_eq!(
        licenses[0],
        UserLicense {
            id: "1005g000000SfDcAAK".into(),
            name: "Salesforce".into(),
            master_label: Some("Salesforce".into()),
            license_definition_key: Some("SFDC".into()),
            status: Some("Active".into()),
            total_licenses: Some(120),
            used_licenses: Some(117),
        }
    );
    assert_eq!(licenses[1].license_definition_key.as_deref(), Some("High Volume Customer Portal_User"));
    assert_eq!(licenses[1].status.as_deref(), Some("Disabled"));
    assert_eq!((licenses[1].total_licenses, licenses[1].used_licenses), (Some(0), Some(0)));
    assert_eq!(licenses[2].total_licenses, Some(5000));
}

#[tokio::test]
async fn profiles() {
    let profiles: Vec<Profile> =
        serve("SELECT Id FROM Profile ORDER BY Id", include_str!("../fixtures/profiles.json")).await;
    assert_eq!(
        profiles[0],
        Profile {
            id: "00e5g000001AdMnAAC".into(),
            name: "System Administrator".into(),
            user_type: Some("Standard".into()),
            user_license_id: Some("1005g000000SfDcAAK".into()),
            description: None,
        }
    );
    assert_eq!(profiles[1].description.as_deref(), Some("Resellers: opportunities and leads only"));
}

#[tokio::test]
async fn permission_set_licenses_with_dates() {
    let licenses: Vec<PermissionSetLicense> = serve(
        "SELECT Id FROM PermissionSetLicense ORDER BY Id",
        include_str!("../fixtures/permission_set_licenses.json"),
    )
    .await;
    assert_eq!(
        licenses[0],
        PermissionSetLicense {
            id: "0PL5g000000CpQaGAK".into(),
            developer_name: "SalesforceCPQ_CPQStandardPerm".into(),
            master_label: Some("Salesforce CPQ License".into()),
            permission_set_license_key: Some("SalesforceCPQ_CPQStandardPerm".into()),
            status: Some("Active".into()),
            expiration_date: Some(SfDate::parse("2025-03-31").unwrap()),
            total_licenses: Some(40),
            used_licenses: Some(38),
        }
    );
    assert_eq!(licenses[0].expiration_date.unwrap().to_iso(), "2025-03-31");
    assert_eq!(licenses[1].expiration_date, None);
}

#[tokio::test]
async fn permission_set_license_assignments() {
    let assigns: Vec<PermissionSetLicenseAssign> = serve(
        "SELECT AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign",
        include_str!("../fixtures/permission_set_license_assigns.json"),
    )
    .await;
    assert_eq!(
        assigns,
        [
            PermissionSetLicenseAssign {
                assignee_id: "0055g00000AbCdEAAV".into(),
                permission_set_license_id: "0PL5g000000CpQaGAK".into()
            },
            PermissionSetLicenseAssign {
                assignee_id: "0055g00000PaRtNAAZ".into(),
                permission_set_license_id: "0PL5g000000CpQaGAK".into()
            },
        ]
    );
}

#[tokio::test]
async fn package_licenses_site_licence_and_expiry() {
    let licenses: Vec<PackageLicense> =
        serve("SELECT Id FROM PackageLicense ORDER BY Id", include_str!("../fixtures/package_licenses.json"))
            .await;
    assert_eq!(
        licenses[0],
        PackageLicense {
            id: "0505g000000SiTeAAC".into(),
            namespace_prefix: Some("dsfs".into()),
            allowed_licenses: Some(-1),
            used_licenses: Some(-1),
            status: Some("Active".into()),
            expiration_date: None,
        }
    );
    assert_eq!(licenses[1].expiration_date.unwrap().to_rfc3339_utc(), "2025-06-30T00:00:00Z");
    assert_eq!(licenses[1].status.as_deref(), Some("Trial"));
}

#[tokio::test]
async fn user_package_licenses() {
    let seats: Vec<UserPackageLicense> = serve(
        "SELECT UserId, PackageLicenseId FROM UserPackageLicense",
        include_str!("../fixtures/user_package_licenses.json"),
    )
    .await;
    assert_eq!(
        seats,
        [UserPackageLicense {
            user_id: "0055g00000AbCdEAAV".into(),
            package_license_id: "0505g000000SeAtAAC".into()
        }]
    );
}

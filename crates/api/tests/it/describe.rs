//! Describe-driven field selection end to end: a hidden optional field becomes null.

use futures_util::TryStreamExt;
use sfconn_api::records::User;
use sfconn_api::select_fields;
use wiremock::Mock;
use wiremock::matchers::{method, path, query_param};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

#[tokio::test]
async fn a_field_missing_from_describe_is_left_out_and_decodes_as_null() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/User/describe")))
        .respond_with(raw_json_ok(include_str!("../fixtures/describe_user.json")))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let describe = client.describe("User").await.unwrap();
    assert_eq!(describe.name, "User");
    let profile = describe.fields.iter().find(|field| field.name == "ProfileId").unwrap();
    assert_eq!(profile.relationship_name.as_deref(), Some("Profile"));
    assert_eq!(profile.reference_to, ["Profile"]);
    assert_eq!(profile.type_, "reference");
    assert!(!profile.nillable);

    let selection = select_fields(
        &describe,
        &["Id", "Username", "IsActive"],
        &["Email", "Profile.UserLicenseId", "LastLoginDate", "FederationIdentifier"],
    )
    .unwrap();
    assert_eq!(selection.missing_optional, ["FederationIdentifier"]);
    let soql = format!("SELECT {} FROM User ORDER BY Id", selection.select_list());
    assert_eq!(
        soql,
        "SELECT Id, Username, IsActive, Email, Profile.UserLicenseId, LastLoginDate FROM User ORDER BY Id"
    );

    let mut record = user("005xx0000000000000001");
    record["Email"] = "jo@acme.test".into();
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(query_param("q", soql.as_str()))
        .respond_with(json_ok(&page(1, None, vec![record])))
        .expect(1)
        .mount(&server)
        .await;
    let users: Vec<User> = client.query(soql).try_collect().await.unwrap();
    assert_eq!(users[0].email.as_deref(), Some("jo@acme.test"));
    assert_eq!(users[0].federation_identifier, None);
}

#[tokio::test]
async fn a_required_field_missing_from_describe_names_the_permission() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/User/describe")))
        .respond_with(raw_json_ok(include_str!("../fixtures/describe_user.json")))
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let describe = client.describe("User").await.unwrap();
    let error = select_fields(&describe, &["Id", "Username", "CompanyName"], &[]).unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unavailable);
    insta::assert_snapshot!(error.to_string(), @r#"the integration user cannot see required field(s) CompanyName on User: describe does not list them. Give the integration user read access to the field(s) through field-level security (profile or permission set > Object Settings > User > Field Permissions), and the "View All Users" permission"#);
}

#[tokio::test]
async fn describe_of_an_object_the_user_cannot_see_is_not_readable() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/PackageLicense/describe")))
        .respond_with(sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let error = client.describe("PackageLicense").await.unwrap_err();
    assert!(error.is_not_readable_object(), "{error}");
    assert_eq!(error.salesforce_error().unwrap().code, "NOT_FOUND");
    assert_eq!(error.class(), ErrorClass::Unavailable);
}

#[tokio::test]
async fn a_bad_object_name_is_refused_before_sending() {
    let server = org().await;
    let client = connect(&server).await;
    let error = client.describe("User/../../limits").await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Internal);
    assert_eq!(client.requests_sent(), 2);
}

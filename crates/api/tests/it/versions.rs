//! Version discovery: newest by default, configured one checked, 410 Gone.

use futures_util::TryStreamExt;
use sfconn_api::records::Organization;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

#[tokio::test]
async fn the_newest_version_is_used() {
    let server = org().await;
    let client = connect(&server).await;
    assert_eq!(client.api_version(), "62.0");
    assert_eq!(client.offered_versions(), ["20.0", "58.0", "61.0", "62.0"]);
    assert_eq!(client.instance_url().as_str(), format!("{}/", server.uri()));
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .respond_with(raw_json_ok(include_str!("../fixtures/organization.json")))
        .expect(1)
        .mount(&server)
        .await;
    let orgs: Vec<Organization> =
        client.query("SELECT Id, Name FROM Organization".to_owned()).try_collect().await.unwrap();
    assert_eq!(orgs.len(), 1);
}

#[tokio::test]
async fn a_configured_version_the_org_offers_is_used() {
    let server = org().await;
    let client =
        connect_with(&server, sfconn_api::ClientOptions { api_version: Some("58".into()), ..options() })
            .await
            .unwrap();
    assert_eq!(client.api_version(), "58.0");
    Mock::given(method("GET"))
        .and(path("/services/data/v58.0/limits"))
        .respond_with(raw_json_ok(include_str!("../fixtures/limits.json")))
        .expect(1)
        .mount(&server)
        .await;
    client.limits().await.unwrap();
}

#[tokio::test]
async fn a_configured_version_the_org_lacks_is_exit_69_listing_the_offer() {
    let server = org().await;
    let error =
        connect_with(&server, sfconn_api::ClientOptions { api_version: Some("63.0".into()), ..options() })
            .await
            .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unavailable);
    insta::assert_snapshot!(error.to_string(), @"API version 63.0 (api_version) is not offered by this org; it offers 20.0, 58.0, 61.0, 62.0. Set api_version to one of those, or leave it unset to use the newest");
}

#[tokio::test]
async fn gone_is_exit_69_listing_the_offer() {
    let server = org().await;
    let client =
        connect_with(&server, sfconn_api::ClientOptions { api_version: Some("20.0".into()), ..options() })
            .await
            .unwrap();
    Mock::given(method("GET"))
        .and(path("/services/data/v20.0/query"))
        .respond_with(sf_error(410, "GONE", "The requested resource is no longer available"))
        .expect(1)
        .mount(&server)
        .await;
    let error = client
        .query::<Organization>("SELECT Id FROM Organization".into())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unavailable);
    insta::assert_snapshot!(error.to_string(), @"API version 20.0 is retired: Salesforce answered the Organization query (GET /services/data/v20.0/query) with HTTP 410 Gone. This org offers 20.0, 58.0, 61.0, 62.0. Set api_version to one of those, or leave it unset to use the newest");
}

#[tokio::test]
async fn an_empty_version_list_is_exit_69() {
    let server = MockServer::start().await;
    mount_token(&server, &server.uri()).await;
    Mock::given(method("GET"))
        .and(path("/services/data"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[ ]", "application/json"))
        .mount(&server)
        .await;
    let error = connect_with(&server, options()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unavailable);
}

#[tokio::test]
async fn requests_are_counted_token_included() {
    let server = org().await;
    let (tokens, counter) = token_source(&server.uri());
    let client = sfconn_api::ApiClient::connect(tokens, options()).await.unwrap();
    // The refresh grant and the version list.
    assert_eq!(counter.get(), 2);
    assert_eq!(client.requests_sent(), 2);
}

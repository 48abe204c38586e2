//! The error mapping table of docs/contract.md §6: each answer → exit code and message.

use std::fmt::Write as _;

use futures_util::TryStreamExt;
use sfconn_api::ClientOptions;
use sfconn_api::records::PackageLicense;
use sfconn_errors::Classify;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

fn html(status: u16, title: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(
            "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        ),
        "text/html; charset=UTF-8",
    )
}

fn cases() -> Vec<(&'static str, ResponseTemplate)> {
    vec![
        (
            "API_DISABLED_FOR_ORG",
            sf_error(403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"),
        ),
        ("API_CURRENTLY_DISABLED", sf_error(403, "API_CURRENTLY_DISABLED", "API is disabled for this User")),
        ("TotalRequests", sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")),
        (
            "INVALID_TYPE",
            sf_error(
                400,
                "INVALID_TYPE",
                "\nSELECT Id FROM PackageLicense\n               ^\nERROR at Row:1:Column:16\nsObject type 'PackageLicense' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
            ),
        ),
        (
            "INSUFFICIENT_ACCESS",
            sf_error(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id"),
        ),
        (
            "INVALID_FIELD",
            sf_error(
                400,
                "INVALID_FIELD",
                "\nSELECT Id, Foo FROM PackageLicense\n           ^\nERROR at Row:1:Column:12\nNo such column 'Foo' on entity 'PackageLicense'.",
            ),
        ),
        ("MALFORMED_QUERY", sf_error(400, "MALFORMED_QUERY", "unexpected token: FORM")),
        ("NOT_FOUND", sf_error(404, "NOT_FOUND", "The requested resource does not exist")),
        ("410 Gone", sf_error(410, "GONE", "API version retired")),
        ("503 SERVER_UNAVAILABLE", sf_error(503, "SERVER_UNAVAILABLE", "Server Unavailable")),
        ("502 HTML", html(502, "502 Bad Gateway")),
        ("500 empty", ResponseTemplate::new(500)),
        (
            "ConcurrentRequests",
            sf_error(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
            ),
        ),
        (
            "200 malformed JSON",
            raw_json_ok("{\"totalSize\" : 1, \"done\" : true, \"records\" : [ {\"Id\" : "),
        ),
        ("200 wrong shape", raw_json_ok("{\"totalSize\" : \"one\", \"done\" : true, \"records\" : [ ]}")),
        ("200 HTML", html(200, "Down for Maintenance")),
        (
            "301 redirect",
            ResponseTemplate::new(301)
                .insert_header("Location", "https://eu42.salesforce.test/services/data"),
        ),
        ("418 plain text", ResponseTemplate::new(418).set_body_raw("I'm a teapot", "text/plain")),
        (
            "401 twice",
            sf_error(401, "INVALID_SESSION_ID", "This session is not valid for use with the REST API"),
        ),
    ]
}

#[tokio::test]
async fn each_answer_maps_to_its_class_and_message() {
    let mut table = String::new();
    for (name, response) in cases() {
        let server = org().await;
        Mock::given(method("GET"))
            .and(path(format!("{V}/query")))
            .respond_with(response)
            .mount(&server)
            .await;
        // No retries: transient answers show what they become once retries are used up.
        let client =
            connect_with(&server, ClientOptions { retry: quick_retry(0), ..options() }).await.unwrap();
        let error = client
            .query::<PackageLicense>("SELECT Id FROM PackageLicense".into())
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        let code = error.salesforce_error().map(|error| error.code.clone()).unwrap_or_else(|| "-".into());
        writeln!(
            table,
            "{name}\n  {:?} | not_readable_object {} | code {code}\n  {}\n",
            error.class(),
            error.is_not_readable_object(),
            error
        )
        .unwrap();
    }
    insta::assert_snapshot!(table);
}

//! Paging: nextRecordsUrl followed on the instance only, batchSize asked, gzip accepted.

use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;
use sfconn_api::Page;
use sfconn_api::records::User;
use wiremock::matchers::{any, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use sfconn_errors::{Classify, ErrorClass};

const SOQL: &str = "SELECT Id, Username, IsActive FROM User ORDER BY Id";

/// Three pages of 2, 2 and 1 users linked by nextRecordsUrl, each served exactly once.
async fn mount_three_pages(server: &MockServer, endpoint: &str) -> Vec<String> {
    let ids = user_ids(1, 5);
    let first = format!("{V}/{endpoint}/0r8xx3dDhQ5FgYAAA-2");
    let second = format!("{V}/{endpoint}/0r8xx3dDhQ5FgYAAA-4");
    Mock::given(method("GET"))
        .and(path(format!("{V}/{endpoint}")))
        .and(query_param("q", SOQL))
        .and(header("Sforce-Query-Options", "batchSize=2000"))
        .respond_with(json_ok(&page(5, Some(&first), users(&ids[0..2]))))
        .expect(1)
        .named("page 1")
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(&first))
        .and(header("Sforce-Query-Options", "batchSize=2000"))
        .respond_with(json_ok(&page(5, Some(&second), users(&ids[2..4]))))
        .expect(1)
        .named("page 2")
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(&second))
        .and(header("Sforce-Query-Options", "batchSize=2000"))
        .respond_with(json_ok(&page(5, None, users(&ids[4..5]))))
        .expect(1)
        .named("page 3")
        .mount(server)
        .await;
    ids
}

#[tokio::test]
async fn three_pages_are_followed_and_carry_total_size() {
    let server = org().await;
    let ids = mount_three_pages(&server, "query").await;
    let client = connect(&server).await;
    let pages: Vec<Page<User>> = client.query_pages(SOQL.to_owned()).try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|page| page.total_size).collect::<Vec<_>>(), [5, 5, 5]);
    assert_eq!(pages.iter().map(|page| page.records.len()).collect::<Vec<_>>(), [2, 2, 1]);
    let got: Vec<String> = pages.into_iter().flat_map(|page| page.records).map(|user| user.id).collect();
    assert_eq!(got, ids);
    // Token, versions, three pages.
    assert_eq!(client.requests_sent(), 5);
}

#[tokio::test]
async fn records_stream_across_pages_without_loss_or_duplicates() {
    let server = org().await;
    let ids = mount_three_pages(&server, "query").await;
    let client = connect(&server).await;
    let got: Vec<String> =
        client.query::<User>(SOQL.to_owned()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn query_all_uses_the_query_all_endpoint() {
    let server = org().await;
    let ids = mount_three_pages(&server, "queryAll").await;
    let client = connect(&server).await;
    let got: Vec<String> =
        client.query_all::<User>(SOQL.to_owned()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn query_all_pages_uses_the_query_all_endpoint() {
    let server = org().await;
    mount_three_pages(&server, "queryAll").await;
    let client = connect(&server).await;
    let pages: Vec<Page<User>> = client.query_all_pages(SOQL.to_owned()).try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|page| page.records.len()).sum::<usize>(), 5);
}

#[tokio::test]
async fn an_empty_result_is_one_empty_page() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(raw_json_ok("{\n  \"totalSize\" : 0,\n  \"done\" : true,\n  \"records\" : [ ]\n}"))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let pages: Vec<Page<User>> = client.query_pages(SOQL.to_owned()).try_collect().await.unwrap();
    assert_eq!(pages, [Page { total_size: 0, records: vec![] }]);
}

#[tokio::test]
async fn gzip_is_asked_for_and_decoded() {
    let server = org().await;
    let ids = user_ids(1, 3);
    let body = page(3, None, users(&ids)).to_string();
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Encoding", "gzip")
                .set_body_raw(gzip_stored(body.as_bytes()), "application/json;charset=UTF-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let got: Vec<String> =
        client.query::<User>(SOQL.to_owned()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, ids);
    let requests = server.received_requests().await.unwrap();
    let query = requests.iter().find(|request| request.url.path() == format!("{V}/query")).unwrap();
    let accept = query.headers.get("accept-encoding").unwrap().to_str().unwrap();
    assert!(accept.contains("gzip"), "{accept}");
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks: valid gzip that any
/// decoder must read, built without a compression library.
pub(crate) fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = u16::try_from(chunk.len()).unwrap();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn crc32_matches_the_reference_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

/// A first page whose nextRecordsUrl is `next`; the stream must yield page 1, then refuse.
async fn refused_next_url(next: &str) -> (Vec<String>, sfconn_api::ApiError) {
    let server = org().await;
    let ids = user_ids(1, 2);
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(4, Some(next), users(&ids))))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let mut stream = std::pin::pin!(client.query::<User>(SOQL.to_owned()));
    let mut got = Vec::new();
    let error = loop {
        match stream.next().await.expect("the stream ends with an error") {
            Ok(user) => got.push(user.id),
            Err(error) => break error,
        }
    };
    assert!(stream.next().await.is_none(), "nothing after the error");
    // Token, versions, page 1: nothing was sent for the refused URL.
    assert_eq!(client.requests_sent(), 3);
    assert_eq!(got, ids);
    (got, error)
}

#[tokio::test]
async fn a_next_url_on_another_host_is_refused_without_sending_the_token() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("another host")
        .mount(&elsewhere)
        .await;
    let next = format!("{}{V}/query/0r8xx-2", elsewhere.uri());
    let (_, error) = refused_next_url(&next).await;
    assert_eq!(error.class(), ErrorClass::BadData);
    let message = error.to_string().replace(&elsewhere.uri(), "http://ELSEWHERE");
    let message = regex_free_port(&message);
    insta::assert_snapshot!(message, @"refused to follow the nextRecordsUrl `http://ELSEWHERE/services/data/v62.0/query/0r8xx-2` returned by page 1 of the User query: it leaves the instance http://127.0.0.1:PORT, and sfconn only sends its access token to the instance's own host");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_scheme_change_or_protocol_relative_next_url_is_refused() {
    let (_, error) = refused_next_url(&format!("https://127.0.0.1:1{V}/query/0r8xx-2")).await;
    assert_eq!(error.class(), ErrorClass::BadData);
    let (_, error) = refused_next_url(&format!("//127.0.0.2{V}/query/0r8xx-2")).await;
    assert!(matches!(error, sfconn_api::ApiError::ForeignUrl { .. }), "{error}");
    let (_, error) = refused_next_url("/some/other/api").await;
    assert!(matches!(error, sfconn_api::ApiError::ForeignUrl { .. }), "{error}");
}

/// Replaces the port after `127.0.0.1:` with `PORT`.
fn regex_free_port(text: &str) -> String {
    let marker = "127.0.0.1:";
    let Some(start) = text.find(marker) else { return text.to_owned() };
    let digits_start = start + marker.len();
    let digits_len = text[digits_start..].chars().take_while(char::is_ascii_digit).count();
    format!("{}PORT{}", &text[..digits_start], &text[digits_start + digits_len..])
}

#[tokio::test]
async fn a_record_that_cannot_be_read_names_the_page_and_the_json_path() {
    let server = org().await;
    let next = format!("{V}/query/0r8xx-2");
    let mut bad = user("005xx0000000000000003");
    bad["LastLoginDate"] = json!("15/01/2024 10:30");
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(4, Some(&next), users(&user_ids(1, 2)))))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&next))
        .respond_with(json_ok(&page(4, None, vec![user("005xx0000000000000002"), bad])))
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let error = client.query::<User>(SOQL.to_owned()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::BadData);
    insta::assert_snapshot!(error.to_string(), @r#"Salesforce returned data that sfconn cannot read for page 2 of the User query (GET /services/data/v62.0/query/0r8xx-2): at `records[1].LastLoginDate`: `15/01/2024 10:30` is not a Salesforce date/time like `2024-01-15T10:30:00.000+0000` at line 1 column 293"#);
}

#[tokio::test]
async fn not_done_without_a_next_url_is_unreadable() {
    let server = org().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&json!({ "totalSize": 9, "done": false, "records": [] })))
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let error = client.query::<User>(SOQL.to_owned()).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::BadData);
    assert!(error.to_string().contains("nextRecordsUrl"), "{error}");
}

/// Which of the three pages of [`mount_three_pages`] the server has been asked for.
async fn pages_requested(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.url.path().contains("/query"))
        .map(|request| request.url.path().to_owned())
        .collect()
}

/// Waits (without asking the stream for anything) until the server has seen `count` query
/// requests; gives up after 10 s, which only a missing request can take.
async fn until_requested(server: &MockServer, count: usize) -> Vec<String> {
    let started = std::time::Instant::now();
    loop {
        let seen = pages_requested(server).await;
        if seen.len() >= count || started.elapsed() > std::time::Duration::from_secs(10) {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_next_page_is_requested_while_the_consumer_works_and_never_two_ahead() {
    let server = org().await;
    let ids = mount_three_pages(&server, "query").await;
    let client = connect(&server).await;
    let mut pages = std::pin::pin!(client.query_pages::<User>(SOQL.to_owned()));
    let first = pages.try_next().await.unwrap().unwrap();
    assert_eq!(first.records.len(), 2);
    // A slow consumer: it has page 1 and has not asked for more, yet page 2 is on its way.
    let seen = until_requested(&server, 2).await;
    assert_eq!(seen, [format!("{V}/query"), format!("{V}/query/0r8xx3dDhQ5FgYAAA-2")]);
    // ... but not page 3: at most one page ahead.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(pages_requested(&server).await.len(), 2, "page 3 was requested before page 2 was taken");
    let second = pages.try_next().await.unwrap().unwrap();
    let seen = until_requested(&server, 3).await;
    assert_eq!(seen.last().map(String::as_str), Some(format!("{V}/query/0r8xx3dDhQ5FgYAAA-4").as_str()));
    let third = pages.try_next().await.unwrap().unwrap();
    assert!(pages.try_next().await.unwrap().is_none());
    let got: Vec<String> =
        [first, second, third].into_iter().flat_map(|page| page.records).map(|user| user.id).collect();
    assert_eq!(got, ids);
    // Token, versions, three pages: the prefetch adds no request.
    assert_eq!(client.requests_sent(), 5);
}

#[tokio::test]
async fn a_stream_dropped_after_the_last_page_requests_nothing_more() {
    let server = org().await;
    let ids = user_ids(1, 2);
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(json_ok(&page(2, None, users(&ids))))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(&server).await;
    let mut pages = std::pin::pin!(client.query_pages::<User>(SOQL.to_owned()));
    assert_eq!(pages.try_next().await.unwrap().unwrap().records.len(), 2);
    assert!(pages.try_next().await.unwrap().is_none());
    assert_eq!(client.requests_sent(), 3, "a done page starts no prefetch");
}

//! The next page is requested on a page's first bytes: an instance on a raw socket sends each
//! first page in two parts and notes whether page 2 was asked for before the second part left.
//! Salesforce writes the paging fields before `records`, but JSON promises no order: a page
//! with `records` first is read whole before the next request, as any other body.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::{Value, json};
use sfconn_api::ApiClient;
use sfconn_api::records::User;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use wiremock::MockServer;

use crate::common::*;
use crate::queries::gzip_stored;

const SOQL: &str = "SELECT Id, Username, IsActive FROM User ORDER BY Id";
const NEXT: &str = "/services/data/v62.0/query/0r8xx3dDhQ5FgYAAA-2";

/// How long the instance holds the rest of page 1 back, waiting for page 2 to be asked for:
/// only a client that does not ask early waits this long.
const HOLD: Duration = Duration::from_secs(2);

/// The order of the members of page 1.
#[derive(Clone, Copy)]
enum Order {
    /// `totalSize`, `done`, `nextRecordsUrl`, `records`: as Salesforce writes them.
    PagingFirst,
    /// `records` first.
    RecordsFirst,
}

struct Instance {
    url: String,
    /// Page 2 was asked for before the rest of page 1 was sent.
    early: Arc<AtomicBool>,
}

/// Page 1 as text, members in `order`.
fn first_page(order: Order, ids: &[String]) -> String {
    let records = Value::Array(users(ids)).to_string();
    let paging = format!(r#""totalSize":3,"done":false,"nextRecordsUrl":{}"#, json!(NEXT));
    match order {
        Order::PagingFirst => format!(r#"{{{paging},"records":{records}}}"#),
        Order::RecordsFirst => format!(r#"{{"records":{records},{paging}}}"#),
    }
}

/// Serves the version list, page 1 (in two parts: up to and including the first record's
/// `Id`, then, once page 2 was asked for or after [`HOLD`], the rest) and page 2. With `gzip`,
/// page 1 is gzip-encoded (stored blocks, so the first part decodes on its own).
async fn instance(order: Order, gzip: bool, ids: Vec<String>) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let early = Arc::new(AtomicBool::new(false));
    let page_two_asked = Arc::new(Notify::new());
    let flag = Arc::clone(&early);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let (ids, flag, asked) = (ids.clone(), Arc::clone(&flag), Arc::clone(&page_two_asked));
            tokio::spawn(serve(socket, order, gzip, ids, flag, asked));
        }
    });
    Instance { url, early }
}

async fn serve(
    mut socket: TcpStream,
    order: Order,
    gzip: bool,
    ids: Vec<String>,
    early: Arc<AtomicBool>,
    page_two_asked: Arc<Notify>,
) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
    let line = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_owned();
    let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let head = |length: usize, encoding: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=UTF-8\r\ncontent-length: {length}\r\n\
             {encoding}connection: close\r\n\r\n"
        )
    };
    if target == "/services/data" {
        let _ = socket.write_all(format!("{}{VERSIONS}", head(VERSIONS.len(), "")).as_bytes()).await;
    } else if target == NEXT {
        page_two_asked.notify_one();
        let body = page(3, None, users(&ids[2..])).to_string();
        let _ = socket.write_all(format!("{}{body}", head(body.len(), "")).as_bytes()).await;
    } else if target.starts_with(&format!("{V}/query?")) {
        let text = first_page(order, &ids[..2]);
        let cut = text.find(&ids[0]).unwrap() + ids[0].len();
        let (body, cut) = if gzip {
            // 10 bytes of gzip header, 5 of the stored block's header, then the text as it is.
            (gzip_stored(text.as_bytes()), 10 + 5 + cut)
        } else {
            (text.into_bytes(), cut)
        };
        let encoding = if gzip { "content-encoding: gzip\r\n" } else { "" };
        let mut first = head(body.len(), encoding).into_bytes();
        first.extend_from_slice(&body[..cut]);
        if socket.write_all(&first).await.is_err() || socket.flush().await.is_err() {
            return;
        }
        let asked = tokio::time::timeout(HOLD, page_two_asked.notified()).await.is_ok();
        early.store(asked, Ordering::SeqCst);
        let _ = socket.write_all(&body[cut..]).await;
    }
    let _ = socket.shutdown().await;
}

async fn connect_to(instance: &Instance) -> (ApiClient, MockServer) {
    let login = MockServer::start().await;
    mount_token(&login, &instance.url).await;
    let (tokens, _) = token_source(&login.uri());
    (ApiClient::connect(tokens, options()).await.unwrap(), login)
}

async fn read_all(order: Order, gzip: bool) -> (Vec<String>, bool, u64) {
    let ids = user_ids(1, 3);
    let instance = instance(order, gzip, ids.clone()).await;
    let (client, _login) = connect_to(&instance).await;
    let got: Vec<String> =
        client.query::<User>(SOQL.to_owned()).map_ok(|user| user.id).try_collect().await.unwrap();
    assert_eq!(got, ids, "every record once, in order");
    (got, instance.early.load(Ordering::SeqCst), client.requests_sent())
}

#[tokio::test]
async fn page_two_is_asked_for_before_the_rest_of_page_one_has_arrived() {
    let (_, early, requests) = read_all(Order::PagingFirst, false).await;
    assert!(early, "page 2 was asked for only after page 1 had arrived whole");
    // Token, versions, two pages: asking early adds no request.
    assert_eq!(requests, 4);
}

#[tokio::test]
async fn a_gzip_page_is_followed_on_its_first_decoded_bytes_too() {
    let (_, early, requests) = read_all(Order::PagingFirst, true).await;
    assert!(early, "page 2 was asked for only after page 1 had arrived whole");
    assert_eq!(requests, 4);
}

#[tokio::test]
async fn a_page_with_records_first_is_read_whole_before_the_next_is_asked_for() {
    let (_, early, requests) = read_all(Order::RecordsFirst, false).await;
    assert!(!early, "page 2 was asked for before page 1's paging fields had arrived");
    assert_eq!(requests, 4);
}

//! At most `concurrency` requests in flight: a bare HTTP server on 127.0.0.1 that measures
//! how many requests it holds at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use sfconn_api::{ApiClient, ClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::MockServer;

use crate::common::*;

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
    served: AtomicUsize,
}

const DESCRIBE: &str = r#"{"name":"User","fields":[{"name":"Id","type":"id","nillable":false}]}"#;

/// Serves the version list at once; holds every other request until `cap` requests are held
/// together (or a while has passed), so that a client sending more than `cap` at once is seen.
async fn serve(listener: TcpListener, gauge: Arc<Gauge>, cap: usize) {
    while let Ok((socket, _)) = listener.accept().await {
        let gauge = Arc::clone(&gauge);
        tokio::spawn(async move { answer(socket, &gauge, cap).await });
    }
}

async fn answer(mut socket: TcpStream, gauge: &Gauge, cap: usize) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let body = if head.starts_with("GET /services/data HTTP") {
        VERSIONS.to_owned()
    } else {
        let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.peak.fetch_max(now, Ordering::SeqCst);
        for _ in 0..200 {
            if gauge.now.load(Ordering::SeqCst) >= cap {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Give an over-eager client time to send more before this one is answered.
        tokio::time::sleep(Duration::from_millis(20)).await;
        gauge.now.fetch_sub(1, Ordering::SeqCst);
        gauge.served.fetch_add(1, Ordering::SeqCst);
        DESCRIBE.to_owned()
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_concurrency_requests_are_in_flight() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let instance = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let gauge = Arc::new(Gauge::default());
    let cap = 2;
    tokio::spawn(serve(listener, Arc::clone(&gauge), cap));

    let login = MockServer::start().await;
    mount_token(&login, &instance).await;
    let (tokens, counter) = token_source(&login.uri());
    let client = ApiClient::connect(tokens, ClientOptions { concurrency: cap, ..options() }).await.unwrap();

    let describes = (0..8).map(|_| client.describe("User"));
    for result in join_all(describes).await {
        assert_eq!(result.unwrap().name, "User");
    }
    assert_eq!(gauge.served.load(Ordering::SeqCst), 8);
    assert_eq!(gauge.peak.load(Ordering::SeqCst), cap, "requests held at once");
    // Token, versions, eight describes.
    assert_eq!(counter.get(), 10);
}

//! A TCP front for the simulated org: the faults a web server cannot stage (a connection
//! reset, a request never answered, a body cut off in the middle of its gzip stream, an answer
//! that trickles in) for requests the org picks with the usual [`crate::Target`] and
//! [`crate::Occurrence`].
//!
//! The org answers such a request normally with a marker header naming the fault; the front,
//! which forwards every request to the org (one request per connection), sees the marker and
//! stages the fault on the client's connection instead of passing the answer on. So the org
//! has received the request (it is logged and counted) and the client sees what a broken
//! network shows it.

use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The header by which the org tells the front which fault to stage.
pub(crate) const MARKER: &str = "x-sfconn-testkit-transport";

/// How long an unanswered connection is kept open at most.
const NO_ANSWER_LIMIT: Duration = Duration::from_secs(120);

/// What the front does with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staged {
    /// Passes the answer on.
    Pass,
    /// Resets the connection (RST) without answering.
    Reset,
    /// Keeps the connection open and never answers.
    NoAnswer,
    /// Sends the answer gzip-encoded, cut off half-way through the compressed body.
    CutGzip,
    /// Sends the answer in small pieces spread over this long.
    Trickle(Duration),
}

impl Staged {
    /// The marker header's value.
    pub(crate) fn marker(self) -> String {
        match self {
            Staged::Pass => "pass".to_owned(),
            Staged::Reset => "reset".to_owned(),
            Staged::NoAnswer => "no-answer".to_owned(),
            Staged::CutGzip => "cut-gzip".to_owned(),
            Staged::Trickle(over) => format!("trickle-{}", over.as_millis()),
        }
    }

    fn from_marker(value: &str) -> Staged {
        match value {
            "reset" => Staged::Reset,
            "no-answer" => Staged::NoAnswer,
            "cut-gzip" => Staged::CutGzip,
            other => other
                .strip_prefix("trickle-")
                .and_then(|ms| ms.parse().ok())
                .map_or(Staged::Pass, |ms| Staged::Trickle(Duration::from_millis(ms))),
        }
    }
}

/// Starts a front for the org listening on `org_port`; returns the front's port. It runs on
/// a thread of its own for the rest of the process.
pub(crate) fn start(org_port: u16) -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = TcpListener::from_std(listener) else { return };
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, org_port));
            }
        });
    });
    Ok(port)
}

/// One connection: one request, forwarded, and its answer passed on or turned into a fault.
async fn serve(mut client: TcpStream, org_port: u16) {
    let Some(request) = read_request(&mut client).await else { return };
    let Some(answer) = forward(&request, org_port).await else { return };
    let Some((head, body)) = split_head(&answer) else { return };
    let (staged, head) = take_marker(&head);
    match staged {
        Staged::Pass => {
            let _ = client.write_all(&answer_bytes(&head, body)).await;
            let _ = client.shutdown().await;
        }
        Staged::Reset => {
            // Linger 0: closing sends RST instead of FIN.
            let _ = client.set_zero_linger();
            drop(client);
        }
        Staged::NoAnswer => {
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(NO_ANSWER_LIMIT, async {
                while matches!(client.read(&mut sink).await, Ok(read) if read > 0) {}
            })
            .await;
        }
        Staged::CutGzip => {
            let compressed = gzip(body);
            let mut head = without_headers(&head, &["content-length", "content-encoding"]);
            head.push_str(&format!("content-encoding: gzip\r\ncontent-length: {}\r\n", compressed.len()));
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&compressed[..compressed.len() / 2]);
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
        }
        Staged::Trickle(over) => {
            if client.write_all(&answer_bytes(&head, &[])).await.is_err() {
                return;
            }
            const PIECES: u32 = 20;
            let piece = body.len().div_ceil(PIECES as usize).max(1);
            for chunk in body.chunks(piece) {
                tokio::time::sleep(over / PIECES).await;
                if client.write_all(chunk).await.is_err() {
                    return;
                }
            }
            let _ = client.shutdown().await;
        }
    }
}

/// Reads one HTTP/1.1 request: the head, then `Content-Length` bytes of body.
async fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = client.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        bytes.extend_from_slice(&buffer[..read]);
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            while bytes.len() < end + 4 + length {
                let read = client.read(&mut buffer).await.ok()?;
                if read == 0 {
                    return None;
                }
                bytes.extend_from_slice(&buffer[..read]);
            }
            return Some(bytes);
        }
    }
}

/// Sends the request to the org on a connection of its own (`Connection: close`) and reads
/// the whole answer.
async fn forward(request: &[u8], org_port: u16) -> Option<Vec<u8>> {
    let end = find(request, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&request[..end]).into_owned();
    let mut head = without_headers(&format!("{head}\r\n"), &["connection"]);
    head.push_str("connection: close\r\n\r\n");
    let mut org = TcpStream::connect(("127.0.0.1", org_port)).await.ok()?;
    org.write_all(head.as_bytes()).await.ok()?;
    org.write_all(&request[end + 4..]).await.ok()?;
    let mut answer = Vec::new();
    org.read_to_end(&mut answer).await.ok()?;
    Some(answer)
}

/// The answer's head (status line and header lines, each ending with CRLF, without the blank
/// line) and body.
fn split_head(answer: &[u8]) -> Option<(String, &[u8])> {
    let end = find(answer, b"\r\n\r\n")?;
    Some((format!("{}\r\n", String::from_utf8_lossy(&answer[..end])), &answer[end + 4..]))
}

/// What the marker asks for, and the head without it.
fn take_marker(head: &str) -> (Staged, String) {
    let staged = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case(MARKER).then(|| Staged::from_marker(value.trim()))
        })
        .unwrap_or(Staged::Pass);
    (staged, without_headers(head, &[MARKER]))
}

fn without_headers(head: &str, names: &[&str]) -> String {
    head.split_inclusive("\r\n")
        .filter(|line| {
            let name = line.split_once(':').map(|(name, _)| name.trim()).unwrap_or_default();
            !names.iter().any(|drop| name.eq_ignore_ascii_case(drop))
        })
        .collect()
}

fn answer_bytes(head: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        for staged in [
            Staged::Pass,
            Staged::Reset,
            Staged::NoAnswer,
            Staged::CutGzip,
            Staged::Trickle(Duration::from_millis(1500)),
        ] {
            assert_eq!(Staged::from_marker(&staged.marker()), staged);
        }
    }

    #[test]
    fn the_marker_is_taken_out_of_the_head() {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{MARKER}: reset\r\nx-other: 1\r\n");
        let (staged, rest) = take_marker(&head);
        assert_eq!(staged, Staged::Reset);
        assert_eq!(rest, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-other: 1\r\n");
    }
}

//! Reading a response body with a size cap, so that no answer fills memory.

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// It is (or says it is) larger than the cap; the rest was not read.
    TooLarge,
    /// The connection failed while reading: a transport failure ([`crate::Attempt::Transport`]).
    Cut(reqwest::Error),
}

/// Reads a body (gzip already decoded) chunk by chunk, giving up as soon as it exceeds `cap`
/// bytes, or before reading at all when `Content-Length` says it will.
pub(crate) async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length().and_then(|length| usize::try_from(length).ok());
    if announced.is_some_and(|length| length > cap) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(announced.unwrap_or(0).min(cap));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Cut)? {
        if bytes.len().saturating_add(chunk.len()) > cap {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

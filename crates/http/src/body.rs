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
pub(crate) async fn read_capped(response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    read_capped_watching(response, cap, |_| false).await
}

/// [`read_capped`], showing `watch` the bytes received so far (gzip already decoded) after each
/// chunk, for as long as it returns `true`: a caller can act on the start of a body while the
/// rest is still arriving. The cap, the decoding and the errors are those of [`read_capped`].
pub(crate) async fn read_capped_watching(
    mut response: reqwest::Response,
    cap: usize,
    mut watch: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length().and_then(|length| usize::try_from(length).ok());
    if announced.is_some_and(|length| length > cap) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(announced.unwrap_or(0).min(cap));
    let mut watching = true;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Cut)? {
        if bytes.len().saturating_add(chunk.len()) > cap {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
        watching = watching && watch(&bytes);
    }
    Ok(bytes)
}

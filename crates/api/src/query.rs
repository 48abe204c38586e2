//! SOQL queries as streams of pages or records, following `nextRecordsUrl`, pipelined one page
//! ahead (page `n + 1` travels while the consumer works on page `n`).
//!
//! # The next page on the first bytes
//!
//! A page's body is read as it arrives. When the consumer is already waiting for the page and
//! its paging fields (`done`, `nextRecordsUrl`) come before `records`, as Salesforce writes
//! them, the next page's request leaves at once, while the rest of this page is still arriving
//! ([`crate::head`]). The page is still read whole, decoded and checked exactly as any other;
//! the early answer is used only if the whole page names the same `nextRecordsUrl`. A page
//! sent early gives its concurrency permit back once its body has been read, and its failure
//! is settled when its turn comes (after the page before it), as it would have been. When the
//! paging fields come after `records`, or the consumer is not waiting, nothing is sent early.
//!
//! # Restarting after `INVALID_QUERY_LOCATOR`
//!
//! Salesforce may expire a query cursor between pages. The query then runs again from its
//! first page, and the first `N` records (the `N` already handed out) are skipped, so nothing
//! is yielded twice. This is safe when the query returns rows in a stable order, which is why
//! every sfconn query ends with `ORDER BY Id` or `ORDER BY <user id>, Id` (Id is unique, so the
//! order is total). It is also checked: when the records carry an `Id`, the last skipped
//! record must have the `Id` of the last record handed out before the restart; if not (rows
//! were added or deleted before that point, or the order is not stable), the query fails with
//! [`ApiError::QueryNotResumable`] (temporary: try again) instead of silently losing or
//! repeating rows. Rewriting the SOQL to `WHERE Id > 'last'` was rejected: it means parsing
//! and editing arbitrary SOQL (existing `WHERE`, `LIMIT`, relationship queries).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::ApiError;
use crate::client::{ApiClient, Call, decode_json};
use crate::head::{self, Head};
use crate::limiter::Permit;

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// `totalSize`: rows of the whole query (the same on every page), for progress.
    pub total_size: u64,
    /// The records of this page (after a restart, without those already yielded).
    pub records: Vec<T>,
}

/// A page decoded fully. The paging fields are used from [`PageHead`]; they are declared here
/// too so that a page is checked, and its errors worded, exactly as a whole.
#[derive(Deserialize)]
struct PageBody<T> {
    #[serde(rename = "totalSize")]
    _total_size: u64,
    #[serde(rename = "done")]
    _done: bool,
    #[serde(rename = "nextRecordsUrl", default)]
    _next_records_url: Option<String>,
    records: Vec<T>,
}

/// A page read lightly: the paging fields and each record's `Id`, every other field skipped
/// without being built. Enough to follow the cursor and keep the restart bookkeeping, so the
/// next page can be requested before the records are decoded.
#[derive(Deserialize)]
struct PageHead {
    #[serde(rename = "totalSize")]
    total_size: u64,
    done: bool,
    #[serde(rename = "nextRecordsUrl", default)]
    next_records_url: Option<String>,
    records: Vec<MaybeId>,
}

/// A record's `Id` when it is an object with a string `Id`; anything else reads as `None`.
struct MaybeId(Option<String>);

impl<'de> Deserialize<'de> for MaybeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = MaybeId;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<MaybeId, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "Id" {
                        id = map.next_value::<Option<String>>().ok().flatten();
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(MaybeId(id))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeId, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(MaybeId(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeId, E> {
                Ok(MaybeId(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeId, E> {
                Ok(MaybeId(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeId, E> {
                Ok(MaybeId(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeId, E> {
                Ok(MaybeId(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeId, E> {
                Ok(MaybeId(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<MaybeId, E> {
                Ok(MaybeId(None))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// A page fetched and read lightly ([`PageHead`]); its records are decoded when the consumer
/// takes it.
struct RawPage {
    body: String,
    label: String,
    total_size: u64,
    /// Records at the start of the page already handed out before a restart.
    first_kept: usize,
}

impl RawPage {
    /// Decodes the records (with [`decode_json`], as every response body, so a broken page
    /// gets the same error message as any other broken body) and drops those already handed out.
    fn decode<T: DeserializeOwned>(self) -> Result<Page<T>, ApiError> {
        let page: PageBody<T> = decode_json(&self.body, &self.label)?;
        let mut records = page.records;
        records.drain(..self.first_kept.min(records.len()));
        Ok(Page { total_size: self.total_size, records })
    }
}

/// The records of a page not handed out before (after a restart, the first `first_kept`
/// records of `body` were), for a [`PageCheck`].
pub struct PageRows<'a> {
    /// The `Id` of each record handed out with this page (`None` where a record has none).
    pub ids: &'a [Option<String>],
    /// The whole page as Salesforce sent it, for checks on other fields.
    pub body: &'a str,
    /// Records at the start of `body` that were handed out before (and are not again).
    pub first_kept: usize,
}

/// A check of each page of a query, run while the page's request still holds its
/// concurrency permit: a page it refuses (its text says why) stops the run before any other
/// request can leave (but the next page's, when it was sent on this page's first bytes), and
/// the query fails with [`ApiError::PageRefused`].
pub type PageCheck = Box<dyn FnMut(&PageRows<'_>) -> Result<(), String> + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Query,
    QueryAll,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Query => "query",
            Endpoint::QueryAll => "queryAll",
        }
    }
}

enum Cursor {
    First,
    Next(String),
    Done,
}

struct QueryRun {
    client: ApiClient,
    soql: String,
    endpoint: Endpoint,
    object: String,
    cursor: Cursor,
    page_number: u32,
    /// Records handed out so far.
    yielded: u64,
    /// `Id` of the last record handed out, when records have one.
    last_id: Option<String>,
    /// After a restart: records still to skip, and the `Id` the last skipped one must have.
    skip: u64,
    expected_last_id: Option<String>,
    restarts: u32,
    check: Option<PageCheck>,
    /// The next page's request, sent on this page's first bytes ([`Lookahead`]).
    ahead: Option<Ahead>,
    /// Pages the consumer has asked for so far (the stream counts them), and pages handed out.
    asked: Arc<AtomicU64>,
    handed: u64,
}

/// The request for the page after the one being read, sent as soon as that page's paging
/// fields had arrived ([`crate::head`]) while the rest of it was still on its way.
struct Ahead {
    /// The `nextRecordsUrl` it follows, as the first bytes of the page before wrote it: it is
    /// used only if the whole page, once read and checked, says the same.
    next: String,
    /// Its body (the permit is given back once it has been read) and the request it sent in
    /// turn for the page after it.
    answer: AbortOnDrop<(Result<String, ApiError>, Option<Ahead>)>,
}

/// Watches a page's body as it arrives; once its paging fields have come (before `records`,
/// where Salesforce writes them) and the consumer is waiting for this page, sends the request
/// for the next one. A page that does not show them first (JSON does not promise the order)
/// is read whole, as any other. At most one request is sent per page, and only to a URL on the
/// instance; the run's own read of the whole page decides whether its answer is used.
struct Lookahead {
    client: ApiClient,
    object: String,
    /// The number of the page watched (1 = the query's first), for the next page's label.
    page: u32,
    /// The item of the stream this page will be; the consumer waits for it once `asked`
    /// reaches it.
    item: u64,
    asked: Arc<AtomicU64>,
    /// The request sent, once it is.
    sent: Mutex<Option<Ahead>>,
}

impl Lookahead {
    fn new(client: ApiClient, object: String, page: u32, item: u64, asked: Arc<AtomicU64>) -> Lookahead {
        Lookahead { client, object, page, item, asked, sent: Mutex::new(None) }
    }

    /// [`Call::watch`]: `false` once nothing more is to be done for this page.
    fn watch(&self, received: &[u8]) -> bool {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if sent.is_some() {
            return false;
        }
        let next = match head::scan(received) {
            Head::NeedMore => return true,
            Head::NotBefore | Head::Found { done: true, .. } | Head::Found { next: None, .. } => {
                return false;
            }
            Head::Found { done: false, next: Some(next) } => next,
        };
        if self.asked.load(Ordering::SeqCst) < self.item {
            // Nobody waits for this page yet: the next one is asked for when it is taken.
            return true;
        }
        let this_page = format!("page {} of the {} query", self.page, self.object);
        // A URL off the instance is never followed; the page's own read stops the run for it.
        let Ok(url) = self.client.resolve_next_url(&next, &this_page) else {
            return false;
        };
        *sent = Some(self.send(next, url));
        false
    }

    fn send(&self, next: String, url: Url) -> Ahead {
        let label = format!("page {} of the {} query (GET {})", self.page + 1, self.object, url.path());
        tracing::debug!(object = %self.object, page = self.page + 1, "requested on the first bytes of the page before");
        let watcher = Lookahead::new(
            self.client.clone(),
            self.object.clone(),
            self.page + 1,
            self.item + 1,
            Arc::clone(&self.asked),
        );
        let answer = AbortOnDrop(tokio::spawn(async move {
            let watch = |received: &[u8]| watcher.watch(received);
            let call = Call {
                // Every failure waits for its page's turn: the page before is handed out first,
                // and then the failure counts as it would have (`QueryRun::next_raw_page`).
                caller_decides: |_| true,
                watch: Some(&watch),
                ..Call::new(url, &label, Some(&watcher.object), true)
            };
            let answer = watcher.client.execute_holding(&call).await.map(|(body, _permit)| body);
            let after = watcher.sent.lock().unwrap_or_else(PoisonError::into_inner).take();
            (answer, after)
        }));
        Ahead { next, answer }
    }
}

impl QueryRun {
    fn new(client: ApiClient, soql: String, endpoint: Endpoint) -> QueryRun {
        let object = queried_object(&soql).unwrap_or_else(|| "SOQL".to_owned());
        QueryRun {
            client,
            soql,
            endpoint,
            object,
            cursor: Cursor::First,
            page_number: 0,
            yielded: 0,
            last_id: None,
            skip: 0,
            expected_last_id: None,
            restarts: 0,
            check: None,
            ahead: None,
            asked: Arc::new(AtomicU64::new(0)),
            handed: 0,
        }
    }

    fn first_url(&self) -> Result<Url, ApiError> {
        let mut url = self.client.data_url(self.endpoint.path())?;
        url.query_pairs_mut().append_pair("q", &self.soql);
        Ok(url)
    }

    /// The next page that has records to hand out (or the final, possibly empty, page), read
    /// lightly; `None` once the query is done. `T` only serves the error message of a page that
    /// cannot even be read lightly (it is decoded fully to say where it is broken).
    async fn next_raw_page<T: DeserializeOwned>(&mut self) -> Result<Option<RawPage>, ApiError> {
        loop {
            let (url, label) = match &self.cursor {
                Cursor::Done => return Ok(None),
                Cursor::First => {
                    let url = self.first_url()?;
                    let label = format!("the {} query (GET {})", self.object, url.path());
                    (url, label)
                }
                Cursor::Next(next) => {
                    let previous = format!("page {} of the {} query", self.page_number, self.object);
                    let url = self.client.resolve_next_url(next, &previous)?;
                    let label = format!(
                        "page {} of the {} query (GET {})",
                        self.page_number + 1,
                        self.object,
                        url.path()
                    );
                    (url, label)
                }
            };
            let following_locator = matches!(self.cursor, Cursor::Next(_));
            // The request sent on the previous page's first bytes, if it went to this URL.
            let early = match (&self.cursor, self.ahead.take()) {
                (Cursor::Next(next), Some(ahead)) if ahead.next == *next => Some(ahead.answer),
                _ => None,
            };
            let lookahead = Lookahead::new(
                self.client.clone(),
                self.object.clone(),
                self.page_number + 1,
                self.handed + 1,
                Arc::clone(&self.asked),
            );
            let watch = |received: &[u8]| lookahead.watch(received);
            let call = Call {
                // An expired cursor is not fatal: the query runs again (see above).
                caller_decides: if following_locator { is_invalid_query_locator } else { |_| false },
                watch: Some(&watch),
                ..Call::new(url, &label, Some(&self.object), true)
            };
            // The permit is held until the page is read lightly and its nextRecordsUrl checked:
            // a page that stops the run does so before another request can leave. A page sent
            // early gave its permit back when its body had been read; its failure is settled
            // here, after the page before it was handed out.
            let answer = match early {
                Some(early) => {
                    let (answer, after) = early.join().await?;
                    *lookahead.sent.lock().unwrap_or_else(PoisonError::into_inner) = after;
                    answer.map(|body| (body, None)).map_err(|error| {
                        if following_locator
                            && is_invalid_query_locator(&error)
                            && !self.client.cancellation().is_tripped()
                        {
                            error
                        } else {
                            self.client.stop_with(error)
                        }
                    })
                }
                None => self.client.execute_holding(&call).await.map(|(body, permit)| (body, Some(permit))),
            };
            self.ahead = lookahead.sent.lock().unwrap_or_else(PoisonError::into_inner).take();
            let (body, permit): (String, Option<Permit>) = match answer {
                Ok(answer) => answer,
                Err(error) if following_locator && is_invalid_query_locator(&error) => {
                    self.restart()?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            self.page_number += 1;
            let page: PageHead = match decode_json(&body, &label) {
                Ok(page) => page,
                Err(light) => {
                    let error = decode_json::<PageBody<T>>(&body, &label).err().unwrap_or(light);
                    return Err(self.client.stop_with(error));
                }
            };
            self.cursor = match (page.done, page.next_records_url) {
                (true, _) => Cursor::Done,
                (false, Some(next)) => {
                    // A nextRecordsUrl off the instance stops the run now, before another
                    // request can take the permit; this page is still handed out, and the
                    // query fails where it would follow the URL, with the same failure.
                    let this_page = format!("page {} of the {} query", self.page_number, self.object);
                    if let Err(error) = self.client.resolve_next_url(&next, &this_page) {
                        drop(self.client.stop_with(error));
                    }
                    Cursor::Next(next)
                }
                (false, None) => {
                    return Err(self.client.stop_with(ApiError::Decode {
                        request: label,
                        path: "nextRecordsUrl".to_owned(),
                        source: serde::de::Error::custom("`done` is false but there is no nextRecordsUrl"),
                    }));
                }
            };
            let ids: Vec<Option<String>> = page.records.into_iter().map(|record| record.0).collect();
            let mut first_kept = 0usize;
            if self.skip > 0 {
                let skipped = usize::try_from(self.skip).unwrap_or(usize::MAX).min(ids.len());
                self.skip -= skipped as u64;
                if self.skip == 0 {
                    self.check_resume_point(
                        skipped.checked_sub(1).and_then(|last| ids.get(last)).cloned().flatten(),
                    )?;
                } else if matches!(self.cursor, Cursor::Done) {
                    return Err(self.not_resumable("the query now returns fewer rows than were already read"));
                }
                first_kept = skipped;
                if first_kept == ids.len() && !matches!(self.cursor, Cursor::Done) {
                    continue;
                }
            }
            if let Some(check) = &mut self.check {
                let rows = PageRows { ids: &ids[first_kept..], body: &body, first_kept };
                if let Err(reason) = check(&rows) {
                    return Err(self.client.stop_with(ApiError::PageRefused { request: label, reason }));
                }
            }
            drop(permit);
            let kept = ids.len() - first_kept;
            if kept > 0 {
                self.last_id = ids.get(first_kept + kept - 1).cloned().flatten();
            }
            self.yielded += kept as u64;
            self.handed += 1;
            return Ok(Some(RawPage { body, label, total_size: page.total_size, first_kept }));
        }
    }

    fn restart(&mut self) -> Result<(), ApiError> {
        self.restarts += 1;
        if self.restarts > self.client.options().retry.max_retries.max(1) {
            return Err(self.not_resumable("Salesforce kept expiring the cursor"));
        }
        tracing::info!(
            object = %self.object,
            already_read = self.yielded,
            "query cursor expired (INVALID_QUERY_LOCATOR); running the query again and skipping the rows already read"
        );
        self.cursor = Cursor::First;
        self.ahead = None;
        self.page_number = 0;
        self.skip = self.yielded;
        self.expected_last_id = self.last_id.clone();
        Ok(())
    }

    /// After a restart, the last skipped row must be the last row handed out before.
    fn check_resume_point(&mut self, last_skipped_id: Option<String>) -> Result<(), ApiError> {
        let Some(expected) = self.expected_last_id.take() else {
            return Ok(());
        };
        match last_skipped_id {
            Some(found) if found == expected => Ok(()),
            _ => Err(self.not_resumable(
                "the rows came back in a different order or rows were added or removed, so the rows already read \
                 cannot be skipped safely",
            )),
        }
    }

    fn not_resumable(&self, reason: &str) -> ApiError {
        ApiError::QueryNotResumable { object: self.object.clone(), reason: reason.to_owned() }
    }
}

fn is_invalid_query_locator(error: &ApiError) -> bool {
    error.salesforce_error().is_some_and(|error| error.code.eq_ignore_ascii_case("INVALID_QUERY_LOCATOR"))
}

/// The object after the first top-level `FROM`, for messages (`SELECT Id FROM User` → `User`).
fn queried_object(soql: &str) -> Option<String> {
    let mut words = soql.split_whitespace();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("from") {
            let object: String =
                words.next()?.chars().take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_').collect();
            return (!object.is_empty()).then_some(object);
        }
    }
    None
}

/// A page fetch running on its own task: the query's state comes back with the page.
type PageTask = AbortOnDrop<(QueryRun, Result<Option<RawPage>, ApiError>)>;

/// A spawned task that is aborted when its handle is dropped (a stream dropped half-way must
/// not leave a request running behind the caller's back).
struct AbortOnDrop<R>(tokio::task::JoinHandle<R>);

impl<R> Drop for AbortOnDrop<R> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<R> AbortOnDrop<R> {
    async fn join(mut self) -> Result<R, ApiError> {
        match (&mut self.0).await {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(ApiError::Internal(format!("a query page task was cancelled: {error}"))),
        }
    }
}

/// Starts fetching the query's next page on its own task, so that it travels while the
/// consumer is still busy with the page it has.
fn fetch_next_page<T>(mut run: QueryRun) -> PageTask
where
    T: DeserializeOwned + Send + 'static,
{
    AbortOnDrop(tokio::spawn(async move {
        let page = run.next_raw_page::<T>().await.map_err(|error| run.client.stop_with(error));
        (run, page)
    }))
}

/// Where a pipelined query stands between two pages handed out.
enum Pipeline {
    /// Nothing requested yet.
    Start(Box<QueryRun>),
    /// The next page is being fetched.
    Fetching(PageTask),
    /// The last page has been handed out (or an error ended the query).
    Finished,
}

/// The query's pages, pipelined: when the consumer takes page `n` (it has arrived and been
/// read lightly, [`PageHead`]), page `n + 1` is requested on a task of its own before page
/// `n`'s records are even decoded, so the round trip overlaps decoding and the consumer's work
/// on page `n`. Never more than one page ahead: page `n + 2` is requested only when the
/// consumer takes page `n + 1`. Retries, session refresh, locator restarts and the request
/// count all live in [`QueryRun::next_raw_page`]; a dropped stream aborts the page
/// in flight.
fn pages<T>(run: QueryRun) -> impl Stream<Item = Result<Page<T>, ApiError>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    // Every failure of the query stops the run where it is found (a page fetched ahead
    // included), and the consumer is handed the failure that stopped it.
    let client = run.client.clone();
    let asked = Arc::clone(&run.asked);
    stream::try_unfold(Pipeline::Start(Box::new(run)), move |state| {
        // The consumer asks for the next page: one sent early may now be followed at once.
        asked.fetch_add(1, Ordering::SeqCst);
        pipeline_step::<T>(state)
    })
    .map_err(move |error| client.surface(client.stop_with(error)))
}

/// One page handed out by [`pages`], and the state after it.
async fn pipeline_step<T>(state: Pipeline) -> Result<Option<(Page<T>, Pipeline)>, ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    let task = match state {
        Pipeline::Start(run) => fetch_next_page::<T>(*run),
        Pipeline::Fetching(task) => task,
        Pipeline::Finished => return Ok(None),
    };
    let (run, raw) = task.join().await?;
    let Some(raw) = raw? else {
        return Ok(None);
    };
    let next = if matches!(run.cursor, Cursor::Done) {
        Pipeline::Finished
    } else {
        Pipeline::Fetching(fetch_next_page::<T>(run))
    };
    Ok(Some((raw.decode::<T>()?, next)))
}

fn records<T>(run: QueryRun) -> impl Stream<Item = Result<T, ApiError>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    pages::<T>(run).map_ok(|page| stream::iter(page.records.into_iter().map(Ok))).try_flatten()
}

impl ApiClient {
    /// Runs a SOQL query (`GET /query?q=`) and yields its pages, following `nextRecordsUrl`
    /// on the instance's own host only. Pages carry `totalSize` for progress.
    pub fn query_pages<T>(
        &self,
        soql: String,
    ) -> impl Stream<Item = Result<Page<T>, ApiError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        pages(QueryRun::new(self.clone(), soql, Endpoint::Query))
    }

    /// Like [`ApiClient::query_pages`], each page checked by `check` before it is handed out
    /// (see [`PageCheck`]).
    pub fn query_pages_checked<T>(
        &self,
        soql: String,
        check: PageCheck,
    ) -> impl Stream<Item = Result<Page<T>, ApiError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut run = QueryRun::new(self.clone(), soql, Endpoint::Query);
        run.check = Some(check);
        pages(run)
    }

    /// Runs a SOQL query and yields its records one by one, page after page.
    pub fn query<T>(&self, soql: String) -> impl Stream<Item = Result<T, ApiError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        records(QueryRun::new(self.clone(), soql, Endpoint::Query))
    }

    /// Like [`ApiClient::query_pages`] on `queryAll` (deleted and archived rows included).
    pub fn query_all_pages<T>(
        &self,
        soql: String,
    ) -> impl Stream<Item = Result<Page<T>, ApiError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        pages(QueryRun::new(self.clone(), soql, Endpoint::QueryAll))
    }

    /// Like [`ApiClient::query`] on `queryAll` (deleted and archived rows included).
    pub fn query_all<T>(&self, soql: String) -> impl Stream<Item = Result<T, ApiError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        records(QueryRun::new(self.clone(), soql, Endpoint::QueryAll))
    }

    /// Collects every record of a query (convenience for small objects).
    pub async fn query_vec<T>(&self, soql: String) -> Result<Vec<T>, ApiError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut stream = std::pin::pin!(self.query::<T>(soql));
        let mut out = Vec::new();
        while let Some(record) = stream.next().await {
            out.push(record?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_light_read_keeps_paging_fields_and_ids_only() {
        let body = r#"{"totalSize":5,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-2",
            "records":[{"attributes":{"type":"User"},"Id":"005A","Name":{"deep":[1,2]}},
                       {"Name":"no id"},{"Id":null},{"Id":7},"not a record"]}"#;
        let head: PageHead = decode_json(body, "test").unwrap();
        assert_eq!((head.total_size, head.done), (5, false));
        assert_eq!(head.next_records_url.as_deref(), Some("/services/data/v62.0/query/01g-2"));
        let ids: Vec<Option<String>> = head.records.into_iter().map(|record| record.0).collect();
        assert_eq!(ids, [Some("005A".to_owned()), None, None, None, None]);
    }

    #[test]
    fn a_raw_page_decodes_its_records_without_those_already_handed_out() {
        let body = r#"{"totalSize":3,"done":true,"records":[{"Id":"a"},{"Id":"b"},{"Id":"c"}]}"#;
        let raw = RawPage { body: body.to_owned(), label: "test".to_owned(), total_size: 3, first_kept: 2 };
        let page: Page<serde_json::Value> = raw.decode().unwrap();
        assert_eq!(page.total_size, 3);
        assert_eq!(page.records, [serde_json::json!({"Id": "c"})]);
    }

    #[test]
    fn the_queried_object_is_found() {
        assert_eq!(
            queried_object("SELECT Id, Name FROM User WHERE IsActive = true").as_deref(),
            Some("User")
        );
        assert_eq!(
            queried_object("select id from PackageLicense order by Id").as_deref(),
            Some("PackageLicense")
        );
        assert_eq!(queried_object("SELECT Id FROM\nProfile").as_deref(), Some("Profile"));
        assert_eq!(queried_object("SELECT Id"), None);
    }
}

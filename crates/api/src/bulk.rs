//! Bulk API 2.0 query jobs: for tables too large to page through REST at 2,000 rows a request
//! (`LoginHistory`). [`ApiClient::bulk_query`] creates the job (`POST …/jobs/query`), polls it
//! with a growing wait until `JobComplete` (`GET …/jobs/query/{id}`), and hands out its results
//! as pages of CSV rows (`GET …/jobs/query/{id}/results?maxRecords=N`, then the
//! `Sforce-Locator` of each page until it is `null`); [`BulkQuery::finish`] deletes the job.
//!
//! A job is never left behind: a [`BulkQuery`] dropped before `finish` (a failure, another
//! source's failure, Ctrl-C dropping the run) aborts the job (`PATCH` `{"state":"Aborted"}`),
//! or deletes it when it had already ended, on a task of its own that [`Cleanups::wait`] lets
//! the caller wait for. Those requests are sent outside the run's cancellation, once.
//!
//! Every request goes through the client's retry loop, so `http.max_retries` applies to
//! transient answers (5xx, timeouts, a body cut off on the wire). A results page whose rows
//! are fewer than its `Sforce-NumberOfRecords` is asked for again with the same locator, as
//! many times.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::client::{ApiClient, Call, decode_json};
use crate::error::ApiError;

/// How a query job is polled and its results read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOptions {
    /// Rows per results page (`maxRecords`).
    pub max_records: u32,
    /// The wait before the first status poll; each later wait is twice the one before, up to
    /// `max_poll`.
    pub first_poll: Duration,
    /// The longest wait between two polls.
    pub max_poll: Duration,
    /// How long the job may take before sfconn gives up on it (and aborts it).
    pub max_wait: Duration,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            max_records: 50_000,
            first_poll: Duration::from_millis(500),
            max_poll: Duration::from_secs(10),
            max_wait: Duration::from_secs(3_600),
        }
    }
}

/// The abort and delete requests of query jobs dropped before they were finished, still in
/// flight. Clones share them.
#[derive(Debug, Clone, Default)]
pub struct Cleanups {
    pending: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Cleanups {
    /// Waits until every pending abort or delete has been answered, or `within` has passed.
    pub async fn wait(&self, within: Duration) {
        let pending: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if pending.is_empty() {
            return;
        }
        let _ = tokio::time::timeout(within, futures_util::future::join_all(pending)).await;
    }

    fn push(&self, task: tokio::task::JoinHandle<()>) {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).push(task);
    }
}

/// A job's description as `POST …/jobs/query` and `GET …/jobs/query/{id}` return it.
#[derive(Debug, Deserialize)]
struct JobInfo {
    id: String,
    state: String,
    #[serde(rename = "errorMessage", default)]
    error_message: Option<String>,
}

/// A query job that has completed; its results are read page by page
/// ([`BulkQuery::next_rows`]).
#[derive(Debug)]
pub struct BulkQuery {
    client: ApiClient,
    object: String,
    job: String,
    options: BulkOptions,
    /// The next page's locator; `None` for the first page.
    locator: Option<String>,
    page: u32,
    done: bool,
    rows: u64,
    guard: JobGuard,
}

/// Aborts (or deletes, once it has ended) a job dropped before it was finished.
#[derive(Debug)]
struct JobGuard {
    client: ApiClient,
    url: Url,
    /// The job reached a final state (no abort needed, only a delete).
    ended: bool,
    /// Deleted already: nothing to do.
    disarmed: bool,
    cleanups: Cleanups,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        if self.disarmed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(job = %self.url.path(), "a Bulk API job could not be aborted: no runtime left");
            return;
        };
        let client = self.client.clone();
        let url = self.url.clone();
        let ended = self.ended;
        self.cleanups.push(runtime.spawn(async move {
            if !ended {
                let aborted = client
                    .send_outside_run(reqwest::Method::PATCH, url.clone(), Some(r#"{"state":"Aborted"}"#))
                    .await;
                tracing::debug!(job = %url.path(), ?aborted, "Bulk API query job aborted");
            }
            let deleted = client.send_outside_run(reqwest::Method::DELETE, url.clone(), None).await;
            tracing::debug!(job = %url.path(), ?deleted, "Bulk API query job deleted");
        }));
    }
}

impl ApiClient {
    /// Runs `soql` as a Bulk API 2.0 query job and waits (polling with a growing wait) until
    /// it has completed. A failed, aborted or overdue job is an error that keeps Salesforce's
    /// words; the job is aborted or deleted whatever happens (see the module documentation).
    pub async fn bulk_query(
        &self,
        object: &str,
        soql: &str,
        options: BulkOptions,
        cleanups: &Cleanups,
    ) -> Result<BulkQuery, ApiError> {
        let url = self.data_url("jobs/query")?;
        let label = format!("the {object} Bulk API query job (POST {})", url.path());
        let body = serde_json::json!({
            "operation": "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        })
        .to_string();
        let call = Call {
            method: reqwest::Method::POST,
            json_body: Some(&body),
            ..Call::new(url.clone(), &label, Some(object), false)
        };
        let created = self.execute(&call).await.map_err(|error| self.surface(error))?;
        let info: JobInfo = decode_json(&created, &label)?;
        let job_url = self.data_url(&format!("jobs/query/{}", info.id))?;
        tracing::debug!(job = %info.id, "Bulk API query job created");
        let guard = JobGuard {
            client: self.clone(),
            url: job_url.clone(),
            ended: false,
            disarmed: false,
            cleanups: cleanups.clone(),
        };
        let mut query = BulkQuery {
            client: self.clone(),
            object: object.to_owned(),
            job: info.id,
            options,
            locator: None,
            page: 0,
            done: false,
            rows: 0,
            guard,
        };
        query.wait_until_complete(job_url).await?;
        Ok(query)
    }
}

impl BulkQuery {
    /// The job's id (`750…`).
    pub fn job_id(&self) -> &str {
        &self.job
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn fail(&self, error: ApiError) -> ApiError {
        self.client.surface(self.client.stop_with(error))
    }

    async fn wait_until_complete(&mut self, job_url: Url) -> Result<(), ApiError> {
        let label = format!("the {} Bulk API query job's state (GET {})", self.object, job_url.path());
        let started = Instant::now();
        let mut wait = self.options.first_poll;
        loop {
            let cancel = self.client.cancellation().clone();
            tokio::select! {
                biased;
                () = cancel.tripped() => return Err(self.client.surface(ApiError::Cancelled)),
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(self.options.max_poll);
            let body = self
                .client
                .execute(&Call::new(job_url.clone(), &label, Some(&self.object), false))
                .await
                .map_err(|error| self.client.surface(error))?;
            let info: JobInfo = decode_json(&body, &label)?;
            tracing::debug!(job = %self.job, state = %info.state, "Bulk API query job polled");
            match info.state.as_str() {
                "JobComplete" => {
                    self.guard.ended = true;
                    return Ok(());
                }
                "Failed" => {
                    self.guard.ended = true;
                    let message = info.error_message.unwrap_or_else(|| "no errorMessage given".to_owned());
                    return Err(self.fail(ApiError::BulkJobFailed {
                        object: self.object.clone(),
                        job: self.job.clone(),
                        message,
                    }));
                }
                "Aborted" => {
                    self.guard.ended = true;
                    return Err(self.fail(ApiError::BulkJobAborted {
                        object: self.object.clone(),
                        job: self.job.clone(),
                    }));
                }
                _ if started.elapsed() >= self.options.max_wait => {
                    return Err(self.fail(ApiError::BulkJobOverdue {
                        object: self.object.clone(),
                        job: self.job.clone(),
                        waited: started.elapsed(),
                    }));
                }
                _ => {}
            }
        }
    }

    /// Hands each row of the next page to `each` as it is decoded, without holding the page's
    /// rows (only its text): the rows read so far, or `None` after the last page (the locator
    /// `null`).
    pub async fn next_rows<T: DeserializeOwned>(
        &mut self,
        mut each: impl FnMut(T),
    ) -> Result<Option<u64>, ApiError> {
        if self.done {
            return Ok(None);
        }
        self.page += 1;
        let mut url = self.client.data_url(&format!("jobs/query/{}/results", self.job))?;
        url.query_pairs_mut().append_pair("maxRecords", &self.options.max_records.to_string());
        if let Some(locator) = &self.locator {
            url.query_pairs_mut().append_pair("locator", locator);
        }
        let label =
            format!("page {} of the {} Bulk API query results (GET {})", self.page, self.object, url.path());
        let retries = self.client.options().retry.max_retries;
        let mut attempt = 0;
        let (body, headers) = loop {
            attempt += 1;
            let call = Call {
                accept: "text/csv",
                caller_decides: |error| matches!(error, ApiError::Rejected { status: 404, .. }),
                ..Call::new(url.clone(), &label, Some(&self.object), false)
            };
            let (body, headers) = match self.client.execute_with_headers(&call).await {
                Ok((body, headers, _permit)) => (body, headers),
                Err(ApiError::Rejected { status: 404, body, .. }) => {
                    return Err(self.fail(ApiError::BulkResultsLost {
                        object: self.object.clone(),
                        job: self.job.clone(),
                        page: self.page,
                        body,
                    }));
                }
                Err(error) => return Err(self.client.surface(error)),
            };
            let promised = header_number(&headers, "sforce-numberofrecords");
            let complete =
                csv_rows(&body).is_some_and(|rows| promised.is_none_or(|promised| promised == rows));
            if complete {
                break (body, headers);
            }
            if attempt > retries {
                return Err(self.fail(ApiError::BulkResultsCut {
                    object: self.object.clone(),
                    job: self.job.clone(),
                    page: self.page,
                    promised,
                    attempts: attempt,
                }));
            }
            tracing::debug!(job = %self.job, page = self.page, "results page cut off; asking for it again");
        };
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        for row in reader.deserialize::<T>() {
            let row = row.map_err(|source| {
                self.fail(ApiError::BulkResultsUnreadable {
                    request: label.clone(),
                    detail: source.to_string(),
                })
            })?;
            each(row);
            self.rows += 1;
        }
        match headers.get("sforce-locator").and_then(|value| value.to_str().ok()) {
            Some(next) if !next.is_empty() && next != "null" => self.locator = Some(next.to_owned()),
            _ => self.done = true,
        }
        Ok(Some(self.rows))
    }

    /// Deletes the job, once every page has been read.
    pub async fn finish(mut self) -> Result<(), ApiError> {
        let url = self.guard.url.clone();
        let label = format!("the {} Bulk API query job's deletion (DELETE {})", self.object, url.path());
        let call =
            Call { method: reqwest::Method::DELETE, ..Call::new(url, &label, Some(&self.object), false) };
        self.client.execute(&call).await.map_err(|error| self.client.surface(error))?;
        self.guard.disarmed = true;
        tracing::debug!(job = %self.job, rows = self.rows, "Bulk API query job read and deleted");
        Ok(())
    }
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The number of data rows of a CSV body, `None` when it does not end with a line ending (cut
/// off inside a row), does not parse to its end, or a row has another number of fields than
/// the header.
fn csv_rows(body: &str) -> Option<u64> {
    // The job asks for `lineEnding: LF`: a whole page ends with one (a cut inside a quoted
    // value would otherwise read as a shorter last value).
    if !body.is_empty() && !body.ends_with('\n') {
        return None;
    }
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let mut rows = 0;
    for record in reader.records() {
        record.ok()?;
        rows += 1;
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_counts_complete_rows_only() {
        let body = "\"UserId\",\"Application\"\n\"005A\",\"Browser\"\n\"005B\",\"Acme, \"\"Beta\"\"\"\n";
        assert_eq!(csv_rows(body), Some(2));
        assert_eq!(csv_rows("\"UserId\",\"Application\"\n"), Some(0));
        // Cut inside a quoted value, or a row missing its fields.
        assert_eq!(csv_rows("\"UserId\",\"Application\"\n\"005A\",\"Bro"), None);
        assert_eq!(csv_rows("\"UserId\",\"Application\"\n\"005A\"\n"), None);
    }
}

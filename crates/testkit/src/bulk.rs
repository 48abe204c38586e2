//! Bulk API 2.0 query jobs of the simulated org: create (`POST …/jobs/query`), poll
//! (`GET …/jobs/query/{id}`: `UploadComplete`, then `InProgress` for
//! [`BulkSwitches::polls_in_progress`] polls, then `JobComplete`), results as CSV pages
//! (`GET …/jobs/query/{id}/results?locator=…&maxRecords=N`, with `Sforce-Locator` (the literal
//! `null` after the last page) and `Sforce-NumberOfRecords`), abort (`PATCH` `{"state":"Aborted"}`)
//! and delete. The rows are those of the REST query engine ([`crate::soql`]), in the same order.
//!
//! Faults: a job that fails ([`BulkSwitches::fail_with`], `errorMessage` as given), one that
//! someone else aborts, the daily limit on query jobs (400 `LIMIT_EXCEEDED`, Salesforce's text),
//! and, through the generic faults with [`crate::Target::BulkResults`], a results page lost
//! (404) or cut off.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};
use wiremock::Request;

use crate::ids::make_id;
use crate::server::{Reply, Shared};
use crate::soql::{self, Query, Visibility};

/// The Bulk switches of the simulated org.
#[derive(Debug, Clone, Default)]
pub(crate) struct BulkSwitches {
    /// Polls answered `InProgress` before `JobComplete`.
    pub polls_in_progress: u32,
    /// Jobs end `Failed` with this `errorMessage`.
    pub fail_with: Option<String>,
    /// Jobs end `Aborted` (by an administrator, not by the client).
    pub aborted_elsewhere: bool,
    /// Creating a job answers Salesforce's daily-limit error.
    pub limit_reached: bool,
}

/// A query job as the org keeps it.
pub(crate) struct Job {
    query: Arc<Query>,
    soql: String,
    total: u64,
    hi: u64,
    polls: u32,
    state: &'static str,
    /// `(records before, slot to scan from)` of every results page handed out (page 1 first).
    pages: Vec<(u64, u64)>,
    error: Option<String>,
    deleted: bool,
    version: String,
}

/// What a test can see of a query job the org received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJobSeen {
    pub id: String,
    /// The SOQL it was created with.
    pub query: String,
    /// Its state now (`Aborted` after an abort).
    pub state: String,
    /// Whether the client deleted it.
    pub deleted: bool,
}

/// The Daily limit of query jobs, as Salesforce words it ([WIRE] Airbyte source-salesforce
/// unit tests).
pub const LIMIT_EXCEEDED_MESSAGE: &str = "Max bulk v2 query jobs (10000) per 24 hrs has been reached (10021)";

fn locator(job: &str, page: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{job}:{page}"))
}

/// The results page (1-based) a locator names, if it is one of `job`'s.
pub(crate) fn page_of(job: &str, locator: Option<&str>) -> Option<u32> {
    let Some(locator) = locator else { return Some(1) };
    let text = base64::engine::general_purpose::STANDARD_NO_PAD.decode(locator).ok()?;
    let text = String::from_utf8(text).ok()?;
    let (owner, page) = text.split_once(':')?;
    (owner == job).then(|| page.parse().ok())?
}

impl Shared {
    fn job_info(&self, id: &str, job: &Job, status: bool) -> Value {
        let created = crate::data::SfDateTime(crate::data::REFERENCE_TIME).salesforce();
        let mut info = json!({
            "id": id,
            "operation": "query",
            "object": job.query.object.name(),
            "createdById": self.data.integration_user().id,
            "createdDate": created,
            "systemModstamp": created,
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": job.version.parse::<f64>().unwrap_or(0.0),
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        });
        if status {
            info["jobType"] = json!("V2Query");
            info["numberRecordsProcessed"] = json!(if job.state == "JobComplete" { job.total } else { 0 });
            info["retries"] = json!(0);
            info["totalProcessingTime"] = json!(u64::from(job.polls) * 250);
            if let Some(error) = &job.error {
                info["errorMessage"] = json!(error);
            }
        }
        info
    }

    pub(crate) fn bulk_create(&self, request: &Request, version: &str) -> Reply {
        if self.with_state(|s| s.switches.bulk.limit_reached) {
            return Reply::json(400, &crate::rest_error_body("LIMIT_EXCEEDED", LIMIT_EXCEEDED_MESSAGE));
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let (Some(operation), Some(soql)) = (body["operation"].as_str(), body["query"].as_str()) else {
            return Reply::json(
                400,
                &crate::rest_error_body(
                    "INVALIDJOB",
                    "InvalidJob : Invalid job request: missing operation or query",
                ),
            );
        };
        if operation != "query" && operation != "queryAll" {
            return Reply::json(
                400,
                &crate::rest_error_body(
                    "INVALIDJOB",
                    &format!("InvalidJob : Invalid operation: {operation}"),
                ),
            );
        }
        let (hidden_objects, hidden_fields) = self.with_state(|s| {
            (s.switches.hidden_objects.keys().copied().collect(), s.switches.hidden_fields.clone())
        });
        let visibility = Visibility { hidden_objects: &hidden_objects, hidden_fields: &hidden_fields };
        let query = match soql::parse(soql, &visibility) {
            Ok(query) if query.count_only => {
                return Reply::json(
                    400,
                    &crate::rest_error_body(
                        "INVALIDJOB",
                        "InvalidJob : Aggregate Relationships not supported in Bulk Query",
                    ),
                );
            }
            Ok(query) => Arc::new(query),
            Err(error) => return Reply::json(400, &crate::rest_error_body(error.code, &error.message)),
        };
        let (lo, hi) = query.slot_range(&self.data);
        let total = (lo..hi)
            .filter(|slot| {
                query.object.record_at(&self.data, *slot).is_some_and(|r| query.matches(&self.data, &r))
            })
            .count() as u64;
        let total = query.limit.map_or(total, |limit| total.min(limit));
        let (id, info) = self.with_state(|s| {
            s.bulk_counter += 1;
            let id = make_id("750", s.bulk_counter);
            let job = Job {
                query,
                soql: soql.to_owned(),
                total,
                hi,
                polls: 0,
                state: "UploadComplete",
                pages: vec![(0, lo)],
                error: None,
                deleted: false,
                version: version.to_owned(),
            };
            let info = self.job_info(&id, &job, false);
            s.bulk_jobs.push((id.clone(), job));
            (id, info)
        });
        let _ = id;
        Reply::json(200, &info)
    }

    pub(crate) fn bulk_status(&self, id: &str) -> Reply {
        let answer = self.with_state(|s| {
            let switches = s.switches.bulk.clone();
            let (id, job) = s.bulk_jobs.iter_mut().find(|(job_id, job)| job_id == id && !job.deleted)?;
            if matches!(job.state, "UploadComplete" | "InProgress") {
                job.polls += 1;
                job.state = if job.polls <= switches.polls_in_progress {
                    "InProgress"
                } else if let Some(message) = switches.fail_with {
                    job.error = Some(message);
                    "Failed"
                } else if switches.aborted_elsewhere {
                    "Aborted"
                } else {
                    "JobComplete"
                };
            }
            Some(self.job_info(id, job, true))
        });
        match answer {
            Some(info) => Reply::json(200, &info),
            None => job_not_found(),
        }
    }

    pub(crate) fn bulk_results(&self, request: &Request, id: &str) -> Reply {
        let params: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        let max_records =
            params.get("maxRecords").and_then(|n| n.parse::<u64>().ok()).filter(|n| *n > 0).unwrap_or(50_000);
        let found = self.with_state(|s| {
            let (_, job) = s.bulk_jobs.iter().find(|(job_id, job)| job_id == id && !job.deleted)?;
            Some((job.state, Arc::clone(&job.query), job.total, job.hi, job.pages.clone()))
        });
        let Some((state, query, total, hi, pages)) = found else {
            return job_not_found();
        };
        if state != "JobComplete" {
            return Reply::json(
                400,
                &crate::rest_error_body(
                    "JOB_NOT_COMPLETE",
                    &format!("Job {id} is not in JobComplete state: {state}"),
                ),
            );
        }
        let page = page_of(id, params.get("locator").map(String::as_str));
        let Some(&(before, from)) = page.and_then(|p| pages.get(usize::try_from(p).ok()? - 1)) else {
            return Reply::json(
                404,
                &crate::rest_error_body("NOT_FOUND", "The requested resource does not exist"),
            );
        };
        let page = page.map_or(1, |p| p as usize);
        let want = max_records.min(total.saturating_sub(before));
        let mut body = query.csv_header();
        let (mut served, mut slot) = (0u64, from);
        while served < want && slot < hi {
            if let Some(rec) = query.object.record_at(&self.data, slot)
                && query.matches(&self.data, &rec)
            {
                query.write_csv_row(&mut body, &self.data, &rec);
                served += 1;
            }
            slot += 1;
        }
        let next = if before + served < total {
            self.with_state(|s| {
                if let Some((_, job)) = s.bulk_jobs.iter_mut().find(|(job_id, _)| job_id == id)
                    && job.pages.len() == page
                {
                    job.pages.push((before + served, slot));
                }
            });
            locator(id, page + 1)
        } else {
            "null".to_owned()
        };
        Reply::text(200, "text/csv", body)
            .header("Sforce-Locator", next)
            .header("Sforce-NumberOfRecords", served.to_string())
    }

    pub(crate) fn bulk_abort(&self, request: &Request, id: &str) -> Reply {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if body["state"] != "Aborted" {
            return Reply::json(
                400,
                &crate::rest_error_body("INVALIDJOBSTATE", "Invalid job state transition"),
            );
        }
        let answer = self.with_state(|s| {
            let (id, job) = s.bulk_jobs.iter_mut().find(|(job_id, job)| job_id == id && !job.deleted)?;
            if matches!(job.state, "JobComplete" | "Failed") {
                return Some(Err(job.state));
            }
            job.state = "Aborted";
            Some(Ok(self.job_info(id, job, false)))
        });
        match answer {
            Some(Ok(info)) => Reply::json(200, &info),
            Some(Err(state)) => Reply::json(
                400,
                &crate::rest_error_body(
                    "INVALIDJOBSTATE",
                    &format!("Aborting already Completed Job not allowed (state {state})"),
                ),
            ),
            None => job_not_found(),
        }
    }

    pub(crate) fn bulk_delete(&self, id: &str) -> Reply {
        let deleted = self.with_state(|s| {
            let (_, job) = s.bulk_jobs.iter_mut().find(|(job_id, job)| job_id == id && !job.deleted)?;
            job.deleted = true;
            Some(())
        });
        match deleted {
            Some(()) => Reply::empty(204),
            None => job_not_found(),
        }
    }

    pub(crate) fn bulk_jobs_seen(&self) -> Vec<BulkJobSeen> {
        self.with_state(|s| {
            s.bulk_jobs
                .iter()
                .map(|(id, job)| BulkJobSeen {
                    id: id.clone(),
                    query: job.soql.clone(),
                    state: job.state.to_owned(),
                    deleted: job.deleted,
                })
                .collect()
        })
    }
}

fn job_not_found() -> Reply {
    Reply::json(404, &crate::rest_error_body("NOT_FOUND", "The requested resource does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_name_their_job_and_page() {
        let job = make_id("750", 1);
        assert_eq!(page_of(&job, None), Some(1));
        assert_eq!(page_of(&job, Some(&locator(&job, 3))), Some(3));
        assert_eq!(page_of(&make_id("750", 2), Some(&locator(&job, 3))), None);
        assert_eq!(page_of(&job, Some("not base64!")), None);
    }
}

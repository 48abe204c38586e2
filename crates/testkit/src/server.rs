//! The HTTP side: one wiremock catch-all mock whose responder routes every request to the
//! simulator below (token endpoint, versions, query paging, describe, limits, identity).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::data::{OrgData, mix};
use crate::faults::{
    DeviceFlowPlan, Fault, FaultId, FaultKind, HiddenAs, Target, rest_error_body, rest_error_parts,
};
use crate::front::{self, Staged};
use crate::ids::make_id;
use crate::schema::SObject;
use crate::soql::{self, Query, Visibility};
use crate::{Arrival, OrgSpec, RecordedRequest, SimulatedOrg};

const JSON: &str = "application/json;charset=UTF-8";
const MAX_CURSORS: usize = 5_000;

pub(crate) struct Switches {
    pub rotation: bool,
    pub require_client_secret: bool,
    pub reject_concurrent_refresh: bool,
    pub instance_url_override: Option<String>,
    pub missing_api_scope: bool,
    pub missing_refresh_token_scope: bool,
    pub device: DeviceFlowPlan,
    pub oauth_flow_disabled: bool,
    pub request_limit_exceeded: bool,
    pub api_disabled_for_org: bool,
    pub api_currently_disabled: bool,
    pub hidden_objects: HashMap<SObject, HiddenAs>,
    pub hidden_fields: HashSet<(SObject, String)>,
    pub oldest_version: u32,
    pub newest_version: u32,
    pub retired_versions: BTreeSet<u32>,
    pub next_records_base: Option<String>,
    /// Once this fault has fired, every later request is answered this much later.
    pub hold_after: Option<(FaultId, Duration)>,
    /// Bulk API 2.0 query jobs.
    pub bulk: crate::bulk::BulkSwitches,
}

pub(crate) struct ActiveFault {
    pub id: FaultId,
    pub fault: Fault,
    pub seen: u32,
    pub fired: u32,
    /// The requests it answered.
    pub firings: Vec<Arrival>,
}

struct Cursor {
    query: Arc<Query>,
    total: u64,
    hi: u64,
    /// `(records already returned, next slot to scan)` for every page handed out.
    pages: Vec<(u64, u64)>,
}

struct AuthCode {
    challenge: Option<String>,
    redirect_uri: Option<String>,
}

pub(crate) struct State {
    pub refresh_tokens: HashSet<String>,
    pub access_tokens: HashSet<String>,
    pub switches: Switches,
    pub faults: Vec<ActiveFault>,
    pub usage_used: u64,
    pub usage_max: u64,
    pub token_requests: u64,
    pub grants: u64,
    next_fault: u64,
    cursors: HashMap<String, Cursor>,
    cursor_order: VecDeque<String>,
    cursor_counter: u64,
    auth_codes: HashMap<String, AuthCode>,
    device_codes: HashMap<String, u32>,
    refresh_in_flight: HashMap<String, Instant>,
    pub(crate) bulk_jobs: Vec<(String, crate::bulk::Job)>,
    pub(crate) bulk_counter: u64,
}

impl State {
    pub fn add_fault(&mut self, fault: Fault) -> FaultId {
        self.next_fault += 1;
        let id = FaultId(self.next_fault);
        self.faults.push(ActiveFault { id, fault, seen: 0, fired: 0, firings: Vec::new() });
        id
    }
}

pub(crate) struct Shared {
    pub data: OrgData,
    pub spec: OrgSpec,
    pub login_url: String,
    pub instance_url: String,
    pub flows: crate::server_flows::FlowState,
    state: Mutex<State>,
    log: Mutex<VecDeque<RecordedRequest>>,
    /// Requests received so far (also the arrival number of the latest).
    arrivals: Mutex<u64>,
    /// Active users holding each feature licence checkbox, by lower-case field name
    /// (`userpermissionsmarketinguser`), counted once when the org starts: see
    /// [`Shared::count_without_scan`].
    active_feature_holders: HashMap<String, u64>,
    /// With [`OrgSpec::build_ahead`]: the totals of [`COUNTED_AT_START`], by
    /// [`Query::total_key`], counted once when the org starts.
    totals_at_start: HashMap<String, u64>,
    /// Itself, for the threads that build pages ahead ([`OrgSpec::build_ahead`]).
    me: Weak<Shared>,
    /// Pages built (or being built) ahead, until they are asked for.
    ahead: Mutex<HashMap<AheadKey, Arc<AheadPage>>>,
}

/// A page built ahead: the cursor, the `offset` it starts at, the API version of the URL and
/// the batch size of the request that led to it (a request for another size builds its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AheadKey {
    locator: String,
    offset: u64,
    version: String,
    batch: u64,
}

/// What [`Shared::page`] returned for a page built ahead, once its thread has built it.
#[derive(Default)]
struct AheadPage {
    built: Mutex<Option<(String, u64, u64)>>,
    ready: Condvar,
}

/// Pages built ahead and not yet asked for, at most (those of abandoned cursors stay until
/// the org stops; past this nothing more is built ahead).
const MAX_AHEAD: usize = 256;

/// The queries whose totals an org that builds ahead ([`OrgSpec::build_ahead`]) counts when
/// it starts: the assignment queries a collection sends (their select lists and order do not
/// change the count). Their first page needs the total, and the org finds it by generating
/// every row, 40–70 ms at 100k users on its one thread, where Salesforce answers from its
/// indexes.
const COUNTED_AT_START: &[&str] = &[
    "SELECT Id FROM PermissionSetLicenseAssign",
    "SELECT Id FROM UserPackageLicense",
    "SELECT Id FROM UserLogin WHERE IsFrozen = true",
    "SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false AND \
     (PermissionSet.LicenseId != null OR PermissionSetGroupId != null)",
];

/// Whether an org that builds ahead ([`OrgSpec::build_ahead`]) counts the total of `soql` when
/// it starts (else its first page scans every row it may match, on the org's one thread): for
/// the collection's assignment queries, which the benchmark must not charge to sfconn.
pub fn counted_at_start(soql: &str) -> bool {
    let Ok(query) = parse_unhidden(soql) else { return false };
    COUNTED_AT_START
        .iter()
        .filter_map(|counted| parse_unhidden(counted).ok())
        .any(|counted| counted.total_key() == query.total_key())
}

/// `soql` parsed as an integration user who sees every object and field would send it.
fn parse_unhidden(soql: &str) -> Result<Query, soql::SoqlError> {
    let (objects, fields) = (HashSet::new(), HashSet::new());
    soql::parse(soql, &Visibility { hidden_objects: &objects, hidden_fields: &fields })
}

/// The rows of `query` (before its `LIMIT`), by generating every record it may match.
fn scan_total(data: &OrgData, query: &Query) -> u64 {
    let (lo, hi) = query.slot_range(data);
    if query.object.is_dense(data) && query.filter_is_id_range_only() {
        return hi - lo;
    }
    (lo..hi)
        .filter(|slot| query.object.record_at(data, *slot).is_some_and(|r| query.matches(data, &r)))
        .count() as u64
}

/// [`COUNTED_AT_START`] counted, by [`Query::total_key`].
fn totals_at_start(data: &OrgData) -> HashMap<String, u64> {
    COUNTED_AT_START
        .iter()
        .filter_map(|soql| parse_unhidden(soql).ok())
        .map(|query| (query.total_key(), scan_total(data, &query)))
        .collect()
}

/// Where the next page of a cursor starts.
#[derive(Clone, Copy)]
struct NextPage<'a> {
    locator: &'a str,
    offset: u64,
    slot: u64,
    hi: u64,
    total: u64,
    batch: u64,
}

impl Shared {
    pub fn new(spec: OrgSpec, login_url: String, instance_url: String, me: Weak<Shared>) -> Shared {
        let data = OrgData::generate(&spec);
        let active_feature_holders = data.active_feature_holders();
        let totals_at_start = if spec.build_ahead { totals_at_start(&data) } else { HashMap::new() };
        let state = State {
            refresh_tokens: HashSet::from([SimulatedOrg::REFRESH_TOKEN.to_string()]),
            access_tokens: HashSet::new(),
            switches: Switches {
                rotation: false,
                require_client_secret: true,
                reject_concurrent_refresh: true,
                instance_url_override: None,
                missing_api_scope: false,
                missing_refresh_token_scope: false,
                device: DeviceFlowPlan::default(),
                oauth_flow_disabled: false,
                request_limit_exceeded: false,
                api_disabled_for_org: false,
                api_currently_disabled: false,
                hidden_objects: HashMap::new(),
                hidden_fields: HashSet::new(),
                oldest_version: spec.oldest_api_version,
                newest_version: spec.newest_api_version,
                retired_versions: BTreeSet::new(),
                next_records_base: None,
                hold_after: None,
                bulk: crate::bulk::BulkSwitches { polls_in_progress: 2, ..Default::default() },
            },
            faults: Vec::new(),
            usage_used: spec.api_usage_used,
            usage_max: spec.api_usage_max,
            token_requests: 0,
            grants: 0,
            next_fault: 0,
            cursors: HashMap::new(),
            cursor_order: VecDeque::new(),
            cursor_counter: 0,
            auth_codes: HashMap::new(),
            device_codes: HashMap::new(),
            refresh_in_flight: HashMap::new(),
            bulk_jobs: Vec::new(),
            bulk_counter: 0,
        };
        Shared {
            data,
            spec,
            login_url,
            instance_url,
            flows: crate::server_flows::FlowState::default(),
            state: Mutex::new(state),
            log: Mutex::new(VecDeque::new()),
            arrivals: Mutex::new(0),
            active_feature_holders,
            totals_at_start,
            me,
            ahead: Mutex::new(HashMap::new()),
        }
    }

    /// With [`OrgSpec::build_ahead`]: starts building the page at `next` on a thread of its own.
    fn build_ahead(&self, query: &Arc<Query>, version: &str, next: NextPage<'_>) {
        let Some(shared) = self.me.upgrade().filter(|_| self.spec.build_ahead) else {
            return;
        };
        let key = AheadKey {
            locator: next.locator.to_owned(),
            offset: next.offset,
            version: version.to_owned(),
            batch: next.batch,
        };
        let page = Arc::new(AheadPage::default());
        {
            let mut ahead = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
            if ahead.len() >= MAX_AHEAD || ahead.contains_key(&key) {
                return;
            }
            ahead.insert(key.clone(), Arc::clone(&page));
        }
        let query = Arc::clone(query);
        let version = version.to_owned();
        let NextPage { offset, slot, hi, total, batch, .. } = next;
        let spawned = std::thread::Builder::new().name("org-build-ahead".to_owned()).spawn({
            let page = Arc::clone(&page);
            move || {
                let built = shared.page(&query, &version, slot, hi, offset, total, batch);
                *page.built.lock().unwrap_or_else(PoisonError::into_inner) = Some(built);
                page.ready.notify_all();
            }
        });
        if spawned.is_err() {
            // Built when it is asked for, as without build_ahead.
            self.ahead.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        }
    }

    /// The page built ahead for this request, waiting for its thread if it is still building.
    fn built_ahead(&self, key: &AheadKey) -> Option<(String, u64, u64)> {
        let page = self.ahead.lock().unwrap_or_else(PoisonError::into_inner).remove(key)?;
        let mut built = page.built.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(done) = built.take() {
                return Some(done);
            }
            built = page.ready.wait(built).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The count of `SELECT COUNT() FROM User WHERE IsActive = true AND <checkbox> = true`,
    /// taken when the org started. Counting by the filter generates every user; the org builds
    /// every answer on one thread, so the four feature licence counts a collection sends at
    /// once would run one after another (about 0.2 s each at 100k users) and hold up every
    /// other answer, where Salesforce runs them side by side. Any other count scans.
    fn count_without_scan(&self, query: &soql::Query) -> Option<u64> {
        let field = query.active_user_checkbox_count()?;
        self.active_feature_holders.get(&field.to_ascii_lowercase()).copied()
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    pub fn requests_received(&self) -> u64 {
        *self.arrivals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Numbers the request in arrival order and logs it.
    fn record(&self, request: &Request) -> Arrival {
        let arrival = {
            let mut count = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
            *count += 1;
            Arrival { number: *count, at: Instant::now() }
        };
        let limit = self.spec.request_log_limit;
        if limit == 0 {
            return arrival;
        }
        let entry = RecordedRequest {
            arrival,
            method: request.method.to_string(),
            url: request.url.to_string(),
            headers: request
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            handled_in: None,
        };
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() >= limit {
            log.pop_front();
        }
        log.push_back(entry);
        arrival
    }

    /// Notes in the log how long the request that arrived at `arrival` took to answer.
    fn answered(&self, arrival: Arrival) {
        let handled_in = arrival.at.elapsed();
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = log.iter_mut().rev().find(|entry| entry.arrival.number == arrival.number) {
            entry.handled_in = Some(handled_in);
        }
    }

    pub fn org_id(&self) -> &str {
        &self.data.organization.id
    }

    pub fn identity_url(&self) -> String {
        format!("{}/id/{}/{}", self.login_url, self.org_id(), self.data.integration_user().id)
    }

    pub fn issue_code(&self, challenge: Option<&str>, redirect_uri: Option<&str>) -> String {
        self.with_state(|s| {
            s.grants += 1;
            let n = s.grants;
            let code = format!("aPrx{}==", token_chars(self.spec.seed, n, 0xC0DE, 60));
            s.auth_codes.insert(
                code.clone(),
                AuthCode {
                    challenge: challenge.map(String::from),
                    redirect_uri: redirect_uri.map(String::from),
                },
            );
            code
        })
    }
}

/// A response before it becomes a wiremock template.
pub(crate) struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    delay: Duration,
}

impl Reply {
    fn json_text(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: Some(JSON.into()),
            body: body.into_bytes(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn json(status: u16, body: &Value) -> Reply {
        Reply::json_text(status, body.to_string())
    }

    pub(crate) fn text(status: u16, content_type: &str, body: String) -> Reply {
        Reply {
            status,
            content_type: Some(content_type.into()),
            body: body.into_bytes(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply { status, content_type: None, body: Vec::new(), headers: Vec::new(), delay: Duration::ZERO }
    }

    fn rest_error(key: &str) -> Reply {
        let (status, code, message) = rest_error_parts(key);
        Reply::json(status, &rest_error_body(&code, &message))
    }

    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(status, &rest_error_body(code, message))
    }

    fn token_error(key: &str) -> Reply {
        let (error, description) = crate::faults::token_error_parts(key);
        Reply::json(400, &json!({"error": error, "error_description": description}))
    }

    /// Sent `delay` later (besides the latency). A query page waits out what is left of the
    /// org's server time once it has been built: building it is part of that time.
    fn after(mut self, delay: Duration) -> Reply {
        self.delay += delay;
        self
    }

    pub(crate) fn header(mut self, name: &str, value: String) -> Reply {
        self.headers.push((name.into(), value));
        self
    }
}

#[derive(Debug, Clone)]
enum Route {
    Token,
    Authorize,
    Revoke,
    Versions,
    Resources {
        version: String,
    },
    /// `query` and `queryAll` alike: the simulated org has no deleted or archived rows.
    Query {
        version: String,
        soql: Option<String>,
        object: Option<String>,
    },
    QueryMore {
        version: String,
        locator: String,
        offset: u64,
        object: Option<String>,
        page: u32,
    },
    Describe {
        version: String,
        object: String,
    },
    Limits {
        version: String,
    },
    BulkCreate {
        version: String,
    },
    BulkStatus {
        version: String,
        job: String,
    },
    BulkResults {
        version: String,
        job: String,
        page: Option<u32>,
    },
    BulkAbort {
        version: String,
        job: String,
    },
    BulkDelete {
        version: String,
        job: String,
    },
    Identity {
        org: String,
        user: String,
    },
    UnknownData {
        version: String,
    },
    NotFound,
}

impl Route {
    fn version(&self) -> Option<&str> {
        match self {
            Route::Resources { version }
            | Route::Query { version, .. }
            | Route::QueryMore { version, .. }
            | Route::Describe { version, .. }
            | Route::Limits { version }
            | Route::BulkCreate { version }
            | Route::BulkStatus { version, .. }
            | Route::BulkResults { version, .. }
            | Route::BulkAbort { version, .. }
            | Route::BulkDelete { version, .. }
            | Route::UnknownData { version } => Some(version),
            _ => None,
        }
    }

    fn hit_by(&self, target: &Target) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| match (want, have) {
            (None, _) => true,
            (Some(w), Some(h)) => w.eq_ignore_ascii_case(h),
            (Some(_), None) => false,
        };
        match target {
            Target::Any => true,
            Target::Token => matches!(self, Route::Token),
            Target::Versions => matches!(self, Route::Versions),
            Target::Limits => matches!(self, Route::Limits { .. }),
            Target::Identity => matches!(self, Route::Identity { .. }),
            Target::Bulk => matches!(
                self,
                Route::BulkCreate { .. }
                    | Route::BulkStatus { .. }
                    | Route::BulkResults { .. }
                    | Route::BulkAbort { .. }
                    | Route::BulkDelete { .. }
            ),
            Target::BulkResults(want) => match self {
                Route::BulkResults { page, .. } => want.is_none_or(|w| *page == Some(w)),
                _ => false,
            },
            Target::Data => self.version().is_some(),
            Target::Describe(want) => match self {
                Route::Describe { object, .. } => same(want, &Some(object.clone())),
                _ => false,
            },
            Target::Query { object: want, page: want_page } => match self {
                Route::Query { object, .. } => same(want, object) && want_page.is_none_or(|p| p == 1),
                Route::QueryMore { object, page, .. } => {
                    same(want, object) && want_page.is_none_or(|p| p == *page)
                }
                _ => false,
            },
        }
    }
}

/// The wiremock responder.
pub(crate) struct Router {
    pub shared: Arc<Shared>,
}

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let arrival = self.shared.record(request);
        let reply = self.shared.handle(request, arrival);
        self.shared.answered(arrival);
        let mut template = ResponseTemplate::new(reply.status);
        for (name, value) in &reply.headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        template = match &reply.content_type {
            Some(ct) => template.set_body_raw(reply.body, ct),
            None => template.set_body_bytes(reply.body),
        };
        // Waited out by wiremock after `respond` has returned, outside its lock and ours.
        let delay = self.shared.spec.latency + reply.delay;
        if delay > Duration::ZERO { template.set_delay(delay) } else { template }
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn query_params(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";

fn token_chars(seed: u64, n: u64, salt: u64, len: usize) -> String {
    (0..len)
        .map(|i| {
            let h = mix(seed ^ salt, n, i as u64);
            char::from(TOKEN_ALPHABET[usize::try_from(h % TOKEN_ALPHABET.len() as u64).unwrap_or(0)])
        })
        .collect()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(message).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().to_vec()
}

fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn version_major(version: &str) -> Option<u32> {
    let (major, minor) = version.split_once('.')?;
    (minor == "0").then_some(())?;
    major.parse().ok()
}

/// The release name of an API version: v20.0 = Winter '11, then Spring, Summer, Winter …
pub(crate) fn release_label(major: u32) -> String {
    let step = major.saturating_sub(20);
    let season = ["Winter", "Spring", "Summer"][(step % 3) as usize];
    format!("{season} '{:02}", 11 + step / 3)
}

fn batch_size(request: &Request) -> u64 {
    header(request, "sforce-query-options")
        .and_then(|options| {
            options.split([';', ',']).find_map(|part| {
                let (k, v) = part.split_once('=')?;
                k.trim().eq_ignore_ascii_case("batchSize").then(|| v.trim().parse::<u64>().ok())?
            })
        })
        .unwrap_or(2000)
        .clamp(200, 2000)
}

impl Shared {
    fn route(&self, request: &Request) -> Route {
        let path = request.url.path();
        let method = request.method.as_str();
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        match (method, segments.as_slice()) {
            ("POST", ["services", "oauth2", "token"]) => Route::Token,
            ("GET", ["services", "oauth2", "authorize"]) => Route::Authorize,
            ("POST", ["services", "oauth2", "revoke"]) => Route::Revoke,
            ("GET", ["services", "data"]) => Route::Versions,
            (_, ["services", "data", v, "jobs", "query", rest @ ..]) if v.starts_with('v') => {
                let version = v[1..].to_string();
                match (method, rest) {
                    ("POST", []) => Route::BulkCreate { version },
                    ("GET", [job]) => Route::BulkStatus { version, job: job.to_string() },
                    ("PATCH", [job]) => Route::BulkAbort { version, job: job.to_string() },
                    ("DELETE", [job]) => Route::BulkDelete { version, job: job.to_string() },
                    ("GET", [job, "results"]) => {
                        let locator = query_params(&request.url).remove("locator");
                        let page = crate::bulk::page_of(job, locator.as_deref());
                        Route::BulkResults { version, job: job.to_string(), page }
                    }
                    _ => Route::UnknownData { version },
                }
            }
            ("GET", ["id", org, user]) => Route::Identity { org: org.to_string(), user: user.to_string() },
            ("GET", ["services", "data", v, rest @ ..]) if v.starts_with('v') => {
                let version = v[1..].to_string();
                match rest {
                    [] => Route::Resources { version },
                    [kind] if *kind == "query" || *kind == "queryAll" => {
                        let soql = query_params(&request.url).remove("q");
                        let object = soql.as_deref().and_then(soql::from_object);
                        Route::Query { version, soql, object }
                    }
                    [kind, locator_offset] if *kind == "query" || *kind == "queryAll" => {
                        let Some((locator, offset)) = locator_offset.rsplit_once('-') else {
                            return Route::UnknownData { version };
                        };
                        let Ok(offset) = offset.parse::<u64>() else { return Route::UnknownData { version } };
                        let (object, page) = self.with_state(|s| match s.cursors.get(locator) {
                            Some(c) => (
                                Some(c.query.object.name().to_string()),
                                c.pages
                                    .iter()
                                    .position(|(o, _)| *o == offset)
                                    .map_or(c.pages.len(), |p| p)
                                    .try_into()
                                    .map_or(u32::MAX, |p: u32| p + 1),
                            ),
                            None => (None, 0),
                        });
                        Route::QueryMore { version, locator: locator.to_string(), offset, object, page }
                    }
                    ["sobjects", object, "describe"] => {
                        Route::Describe { version, object: object.to_string() }
                    }
                    ["limits"] => Route::Limits { version },
                    _ => Route::UnknownData { version },
                }
            }
            _ => Route::NotFound,
        }
    }

    fn handle(&self, request: &Request, arrival: Arrival) -> Reply {
        let route = self.route(request);
        let (fault, hold) = self.with_state(|s| {
            let hold = s.switches.hold_after.and_then(|(id, hold)| {
                s.faults.iter().any(|active| active.id == id && active.fired > 0).then_some(hold)
            });
            let mut hit = None;
            for active in &mut s.faults {
                if !route.hit_by(&active.fault.target) {
                    continue;
                }
                // Every matching fault counts the request; the first one due answers it.
                active.seen += 1;
                let occ = active.fault.occurrence;
                if hit.is_none() && active.seen > occ.skip && occ.count.is_none_or(|c| active.fired < c) {
                    active.fired += 1;
                    active.firings.push(arrival);
                    hit = Some(active.fault.kind.clone());
                }
            }
            (hit, hold)
        });
        let mut reply = match fault {
            None => self.normal(request, &route),
            Some(kind) => self.apply_fault(request, &route, kind),
        };
        reply.delay += hold.unwrap_or_default();
        reply
    }

    fn apply_fault(&self, request: &Request, route: &Route, kind: FaultKind) -> Reply {
        match kind {
            FaultKind::Json { status, body } => Reply::json(status, &body),
            FaultKind::Text { status, content_type, body } => Reply::text(status, &content_type, body),
            FaultKind::BadGatewayHtml => Reply::text(502, "text/html", crate::faults::server_error_html(502)),
            FaultKind::Empty { status } => Reply::empty(status),
            FaultKind::Redirect { status, location } => Reply::empty(status).header("Location", location),
            FaultKind::ExpireSessions => {
                self.with_state(|s| s.access_tokens.clear());
                Reply::rest_error("INVALID_SESSION_ID")
            }
            FaultKind::ExpireQueryLocator => {
                if let Route::QueryMore { locator, .. } = route {
                    self.with_state(|s| s.cursors.remove(locator));
                }
                Reply::rest_error("INVALID_QUERY_LOCATOR")
            }
            FaultKind::Truncated => {
                let mut reply = self.normal(request, route);
                let keep = reply.body.len() / 2;
                reply.body.truncate(keep);
                reply
            }
            FaultKind::Malformed => {
                let mut reply = self.normal(request, route);
                reply.status = 200;
                reply.body = b"{\"totalSize\":12,\"done\":tru<<not json>>".to_vec();
                reply
            }
            FaultKind::Stall(delay) => {
                let mut reply = self.normal(request, route);
                reply.delay += delay;
                reply
            }
            FaultKind::Reset => self.staged(request, route, Staged::Reset),
            FaultKind::NoAnswer => self.staged(request, route, Staged::NoAnswer),
            FaultKind::CutGzip => self.staged(request, route, Staged::CutGzip),
            FaultKind::Trickle(over) => self.staged(request, route, Staged::Trickle(over)),
            FaultKind::Delayed { delay, then } => {
                let mut reply = self.apply_fault(request, route, *then);
                reply.delay += delay;
                reply
            }
        }
    }

    /// The normal answer, marked for the TCP front to stage a network fault instead.
    fn staged(&self, request: &Request, route: &Route, staged: Staged) -> Reply {
        self.normal(request, route).header(front::MARKER, staged.marker())
    }

    fn normal(&self, request: &Request, route: &Route) -> Reply {
        match route {
            Route::Token => self.token(request),
            Route::Authorize => self.authorize(request),
            Route::Revoke => crate::server_flows::revoke(self, request),
            Route::Versions => self.versions(),
            Route::Identity { org, user } => self.identity(request, org, user),
            Route::NotFound => Reply::rest_error("NOT_FOUND"),
            data => self.data_request(request, data),
        }
    }

    fn versions(&self) -> Reply {
        let (oldest, newest, retired) = self.with_state(|s| {
            (s.switches.oldest_version, s.switches.newest_version, s.switches.retired_versions.clone())
        });
        let list: Vec<Value> = (oldest..=newest)
            .filter(|v| !retired.contains(v))
            .map(|v| json!({"label": release_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
            .collect();
        Reply::json(200, &Value::Array(list))
    }

    fn bearer(request: &Request) -> Option<&str> {
        let value = header(request, "authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        (scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("OAuth")).then(|| token.trim())
    }

    fn data_request(&self, request: &Request, route: &Route) -> Reply {
        let version = route.version().unwrap_or_default().to_string();
        let token = Self::bearer(request).map(String::from);
        enum Gate {
            Retired,
            Unknown,
            NoSession,
            NoApiScope,
            Refused(&'static str),
            Open { used: u64, max: u64 },
        }
        let gate = self.with_state(|s| {
            let sw = &s.switches;
            match version_major(&version) {
                Some(m) if sw.retired_versions.contains(&m) || m < sw.oldest_version => return Gate::Retired,
                Some(m) if m <= sw.newest_version => {}
                _ => return Gate::Unknown,
            }
            if !token.as_ref().is_some_and(|t| s.access_tokens.contains(t)) {
                return Gate::NoSession;
            }
            if sw.missing_api_scope {
                return Gate::NoApiScope;
            }
            s.usage_used += 1;
            let (used, max) = (s.usage_used, s.usage_max);
            if sw.api_disabled_for_org {
                Gate::Refused("API_DISABLED_FOR_ORG")
            } else if sw.api_currently_disabled {
                Gate::Refused("API_CURRENTLY_DISABLED")
            } else if sw.request_limit_exceeded {
                Gate::Refused("REQUEST_LIMIT_EXCEEDED")
            } else {
                Gate::Open { used, max }
            }
        });
        let (used, max) = match gate {
            Gate::Retired => {
                return Reply::error(
                    410,
                    "GONE",
                    &format!("API version {version} has been retired and is no longer available"),
                );
            }
            Gate::Unknown => return Reply::rest_error("NOT_FOUND"),
            Gate::NoSession => return Reply::rest_error("INVALID_SESSION_ID"),
            Gate::NoApiScope => return Reply::rest_error("INVALID_SESSION_ID_NO_API"),
            Gate::Refused(key) => {
                let (used, max) = self.with_state(|s| (s.usage_used, s.usage_max));
                return Reply::rest_error(key).header("Sforce-Limit-Info", format!("api-usage={used}/{max}"));
            }
            Gate::Open { used, max } => (used, max),
        };
        let reply = match route {
            Route::Resources { version } => {
                let base = format!("/services/data/v{version}");
                Reply::json(
                    200,
                    &json!({
                        "limits": format!("{base}/limits"),
                        "query": format!("{base}/query"),
                        "queryAll": format!("{base}/queryAll"),
                        "sobjects": format!("{base}/sobjects"),
                        "identity": self.identity_url(),
                    }),
                )
            }
            Route::Query { version, soql, object, .. } => match soql {
                None => Reply::error(400, "MALFORMED_QUERY", "A query string has to be specified"),
                Some(soql) => {
                    let building = Instant::now();
                    let reply = self.query(request, version, soql, object.as_deref());
                    reply.after(self.spec.server_time.saturating_sub(building.elapsed()))
                }
            },
            Route::QueryMore { version, locator, offset, .. } => {
                let building = Instant::now();
                let reply = self.query_more(request, version, locator, *offset);
                reply.after(self.spec.server_time.saturating_sub(building.elapsed()))
            }
            Route::Describe { object, .. } => self.describe(object),
            Route::Limits { .. } => self.limits(used, max),
            Route::BulkCreate { version } => self.bulk_create(request, version),
            Route::BulkStatus { job, .. } => self.bulk_status(job),
            Route::BulkResults { job, .. } => self.bulk_results(request, job),
            Route::BulkAbort { job, .. } => self.bulk_abort(request, job),
            Route::BulkDelete { job, .. } => self.bulk_delete(job),
            _ => Reply::rest_error("NOT_FOUND"),
        };
        reply.header("Sforce-Limit-Info", format!("api-usage={used}/{max}"))
    }

    fn hidden(&self, object: Option<SObject>) -> Option<HiddenAs> {
        let object = object?;
        self.with_state(|s| s.switches.hidden_objects.get(&object).copied())
    }

    fn describe(&self, name: &str) -> Reply {
        let object = SObject::from_name(name);
        match (object, self.hidden(object)) {
            (None, _) | (Some(_), Some(HiddenAs::InvalidType)) => Reply::rest_error("NOT_FOUND"),
            (Some(_), Some(HiddenAs::InsufficientAccess)) => Reply::rest_error("INSUFFICIENT_ACCESS"),
            (Some(object), None) => {
                let hidden: HashSet<String> = self.with_state(|s| {
                    s.switches
                        .hidden_fields
                        .iter()
                        .filter(|(o, _)| *o == object)
                        .map(|(_, f)| f.clone())
                        .collect()
                });
                let mut json = object.describe().json.clone();
                if let Some(fields) = json["fields"].as_array_mut() {
                    fields.retain(|f| f["name"].as_str().is_none_or(|n| !hidden.contains(n)));
                }
                Reply::json(200, &json)
            }
        }
    }

    fn limits(&self, used: u64, max: u64) -> Reply {
        let mut limits: Value =
            serde_json::from_str(include_str!("../../../fixtures/limits.json")).unwrap_or(Value::Null);
        limits["DailyApiRequests"]["Max"] = json!(max);
        limits["DailyApiRequests"]["Remaining"] = json!(max.saturating_sub(used));
        Reply::json(200, &limits)
    }

    fn identity(&self, request: &Request, org: &str, user: &str) -> Reply {
        let Some(token) = Self::bearer(request) else {
            return Reply::text(403, "text/plain", "Missing_OAuth_Token".into());
        };
        if !self.with_state(|s| s.access_tokens.contains(token)) {
            return Reply::text(403, "text/plain", "Bad_OAuth_Token".into());
        }
        let me = self.data.integration_user();
        if org != self.org_id() || user != me.id {
            return Reply::text(404, "text/plain", "Bad_Id".into());
        }
        let esc = |v: &str| {
            let quoted = Value::String(v.to_string()).to_string();
            quoted[1..quoted.len() - 1].to_string()
        };
        let mut text = include_str!("../../../fixtures/identity.json").to_string();
        for (key, value) in [
            ("IDENTITY_URL", self.identity_url()),
            ("USER_ID", me.id.clone()),
            ("ORG_ID15", self.org_id()[..15].to_string()),
            ("ORG_ID", self.org_id().to_string()),
            ("USERNAME", me.username.clone()),
            ("NICK_NAME", me.alias.clone()),
            ("DISPLAY_NAME", me.name.clone()),
            ("EMAIL", me.email.clone().unwrap_or_default()),
            ("FIRST_NAME", me.first_name.clone().unwrap_or_default()),
            ("LAST_NAME", me.last_name.clone()),
            ("INSTANCE_URL", self.instance_url.clone()),
            ("LAST_MODIFIED", me.last_modified_date.salesforce()),
        ] {
            text = text.replace(&format!("{{{{{key}}}}}"), &esc(&value));
        }
        if let Some(version) = query_params(&request.url).get("version") {
            text = text.replace("{version}", version);
        }
        Reply::json_text(200, text)
    }

    fn next_records_url(&self, version: &str, locator: &str, offset: u64) -> String {
        let base = self.with_state(|s| s.switches.next_records_base.clone()).unwrap_or_default();
        format!("{base}/services/data/v{version}/query/{locator}-{offset}")
    }

    fn query(&self, request: &Request, version: &str, soql: &str, object: Option<&str>) -> Reply {
        if self.hidden(object.and_then(SObject::from_name)) == Some(HiddenAs::InsufficientAccess) {
            return Reply::rest_error("INSUFFICIENT_ACCESS");
        }
        let (hidden_objects, hidden_fields) = self.with_state(|s| {
            (
                s.switches.hidden_objects.keys().copied().collect::<HashSet<_>>(),
                s.switches.hidden_fields.clone(),
            )
        });
        let visibility = Visibility { hidden_objects: &hidden_objects, hidden_fields: &hidden_fields };
        let query = match soql::parse(soql, &visibility) {
            Ok(q) => Arc::new(q),
            Err(e) => return Reply::error(400, e.code, &e.message),
        };
        let data = &self.data;
        let (lo, hi) = query.slot_range(data);
        let mut total = if let Some(total) = self.count_without_scan(&query) {
            total
        } else if let Some(total) = self.totals_at_start.get(&query.total_key()) {
            *total
        } else {
            scan_total(data, &query)
        };
        if let Some(limit) = query.limit {
            total = total.min(limit);
        }
        if query.count_only {
            return Reply::json_text(200, format!("{{\"totalSize\":{total},\"done\":true,\"records\":[]}}"));
        }
        let (records, next_slot, served) = self.page(&query, version, lo, hi, 0, total, batch_size(request));
        if served >= total {
            return Reply::json_text(
                200,
                format!("{{\"totalSize\":{total},\"done\":true,\"records\":[{records}]}}"),
            );
        }
        let locator = self.with_state(|s| {
            s.cursor_counter += 1;
            let locator = make_id("0r8", s.cursor_counter);
            s.cursors.insert(
                locator.clone(),
                Cursor { query: Arc::clone(&query), total, hi, pages: vec![(0, lo), (served, next_slot)] },
            );
            s.cursor_order.push_back(locator.clone());
            while s.cursor_order.len() > MAX_CURSORS {
                if let Some(old) = s.cursor_order.pop_front() {
                    s.cursors.remove(&old);
                }
            }
            locator
        });
        let next_page = NextPage {
            locator: &locator,
            offset: served,
            slot: next_slot,
            hi,
            total,
            batch: batch_size(request),
        };
        self.build_ahead(&query, version, next_page);
        let next = self.next_records_url(version, &locator, served);
        Reply::json_text(
            200,
            format!(
                "{{\"totalSize\":{total},\"done\":false,\"nextRecordsUrl\":{},\"records\":[{records}]}}",
                Value::String(next)
            ),
        )
    }

    fn query_more(&self, request: &Request, version: &str, locator: &str, offset: u64) -> Reply {
        let found = self.with_state(|s| {
            let cursor = s.cursors.get(locator)?;
            let slot = cursor.pages.iter().find(|(o, _)| *o == offset)?.1;
            Some((Arc::clone(&cursor.query), cursor.total, cursor.hi, slot))
        });
        let Some((query, total, hi, slot)) = found else {
            return Reply::rest_error("INVALID_QUERY_LOCATOR");
        };
        let batch = batch_size(request);
        let key = AheadKey { locator: locator.to_owned(), offset, version: version.to_owned(), batch };
        let (records, next_slot, served) = match self.built_ahead(&key) {
            Some(built) => built,
            None => self.page(&query, version, slot, hi, offset, total, batch),
        };
        let reached = offset + served;
        if reached >= total {
            return Reply::json_text(
                200,
                format!("{{\"totalSize\":{total},\"done\":true,\"records\":[{records}]}}"),
            );
        }
        self.with_state(|s| {
            if let Some(cursor) = s.cursors.get_mut(locator)
                && !cursor.pages.iter().any(|(o, _)| *o == reached)
            {
                cursor.pages.push((reached, next_slot));
            }
        });
        self.build_ahead(
            &query,
            version,
            NextPage { locator, offset: reached, slot: next_slot, hi, total, batch },
        );
        let next = self.next_records_url(version, locator, reached);
        Reply::json_text(
            200,
            format!(
                "{{\"totalSize\":{total},\"done\":false,\"nextRecordsUrl\":{},\"records\":[{records}]}}",
                Value::String(next)
            ),
        )
    }

    /// Serialises up to `batch` matching records from slot `from`; returns the JSON of the
    /// records, the next slot to scan and how many were written.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        query: &Query,
        version: &str,
        from: u64,
        hi: u64,
        offset: u64,
        total: u64,
        batch: u64,
    ) -> (String, u64, u64) {
        let want = batch.min(total.saturating_sub(offset));
        let mut out = String::new();
        let mut served = 0;
        let mut slot = from;
        while served < want && slot < hi {
            if let Some(rec) = query.object.record_at(&self.data, slot)
                && query.matches(&self.data, &rec)
            {
                if served > 0 {
                    out.push(',');
                }
                query.write_record(&mut out, &self.data, &rec, version);
                served += 1;
            }
            slot += 1;
        }
        (out, slot, served)
    }

    // ---- OAuth ----

    fn token(&self, request: &Request) -> Reply {
        self.with_state(|s| s.token_requests += 1);
        let mut params = form(&request.body);
        if let Some(basic) = header(request, "authorization").and_then(|h| h.strip_prefix("Basic ")) {
            let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok();
            match decoded.and_then(|d| String::from_utf8(d).ok()).and_then(|d| {
                let (id, secret) = d.split_once(':')?;
                Some((id.to_string(), secret.to_string()))
            }) {
                Some((id, secret)) => {
                    params.entry("client_id".into()).or_insert(id);
                    params.entry("client_secret".into()).or_insert(secret);
                }
                None => {
                    return Reply::json(
                        400,
                        &json!({"error": "invalid_basic_auth_header", "error_description": "malformed basic auth header"}),
                    );
                }
            }
        }
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        if let Some(reply) = crate::server_flows::token(self, &params) {
            return reply;
        }
        if param("response_type") == Some("device_code") {
            return self.device_code(param("client_id"));
        }
        if param("client_id") != Some(SimulatedOrg::CLIENT_ID) {
            return Reply::token_error("invalid_client_id");
        }
        let require_secret = self.with_state(|s| s.switches.require_client_secret);
        match param("client_secret") {
            Some(secret) if secret != SimulatedOrg::CLIENT_SECRET => {
                return Reply::token_error("invalid_client");
            }
            None if require_secret && param("grant_type") != Some("device") => {
                return Reply::token_error("invalid_client");
            }
            _ => {}
        }
        match param("grant_type") {
            Some("refresh_token") => self.refresh_grant(param("refresh_token").unwrap_or_default()),
            Some("authorization_code") => self.code_grant(
                param("code").unwrap_or_default(),
                param("redirect_uri"),
                param("code_verifier"),
            ),
            Some("device") => self.device_grant(param("code").unwrap_or_default()),
            None => Reply::token_error("invalid_request"),
            Some(_) => Reply::token_error("unsupported_grant_type"),
        }
    }

    fn refresh_grant(&self, refresh_token: &str) -> Reply {
        let latency = self.spec.latency;
        let outcome = self.with_state(|s| {
            if !s.refresh_tokens.contains(refresh_token) {
                return Err("expired_refresh_token");
            }
            if s.switches.reject_concurrent_refresh && latency > Duration::ZERO {
                let now = Instant::now();
                s.refresh_in_flight.retain(|_, until| *until > now);
                if s.refresh_in_flight.contains_key(refresh_token) {
                    return Err("expired_authorization_code");
                }
                s.refresh_in_flight.insert(refresh_token.to_string(), now + latency);
            }
            let rotated = s.switches.rotation.then(|| {
                s.refresh_tokens.remove(refresh_token);
                self.new_refresh_token(s)
            });
            Ok(self.grant(s, rotated))
        });
        match outcome {
            Ok(body) => Reply::json(200, &body),
            Err(key) => Reply::token_error(key),
        }
    }

    fn new_refresh_token(&self, s: &mut State) -> String {
        s.grants += 1;
        let token = format!("5Aep861{}", token_chars(self.spec.seed, s.grants, 0x5AE9, 80));
        s.refresh_tokens.insert(token.clone());
        token
    }

    /// A success body: a fresh access token, optionally a refresh token.
    pub(crate) fn grant(&self, s: &mut State, refresh_token: Option<String>) -> Value {
        s.grants += 1;
        let access =
            format!("{}!AQ{}", &self.org_id()[..15], token_chars(self.spec.seed, s.grants, 0xACCE, 94));
        s.access_tokens.insert(access.clone());
        let issued_at = now_ms().to_string();
        let id = self.identity_url();
        let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
            SimulatedOrg::CLIENT_SECRET.as_bytes(),
            format!("{id}{issued_at}").as_bytes(),
        ));
        let scope = match (s.switches.missing_api_scope, s.switches.missing_refresh_token_scope) {
            (true, _) => "refresh_token id",
            (false, true) => "api id",
            (false, false) => "api refresh_token",
        };
        let instance_url =
            s.switches.instance_url_override.clone().unwrap_or_else(|| self.instance_url.clone());
        let mut body = json!({
            "access_token": access,
            "signature": signature,
            "scope": scope,
            "instance_url": instance_url,
            "id": id,
            "token_type": "Bearer",
            "issued_at": issued_at,
        });
        if let Some(token) = refresh_token {
            body["refresh_token"] = Value::String(token);
        }
        body
    }

    fn authorize(&self, request: &Request) -> Reply {
        let params = query_params(&request.url);
        if params.get("client_id").map(String::as_str) != Some(SimulatedOrg::CLIENT_ID) {
            return Reply::text(400, "text/html", "<html><body>error=invalid_client_id</body></html>".into());
        }
        let Some(redirect) = params.get("redirect_uri").and_then(|r| Url::parse(r).ok()) else {
            return Reply::text(
                400,
                "text/html",
                "<html><body>error=redirect_uri_missing</body></html>".into(),
            );
        };
        if self.with_state(|s| s.switches.oauth_flow_disabled) {
            return Reply::text(
                400,
                "text/html",
                "<html><body>error=oauth_flow_disabled</body></html>".into(),
            );
        }
        let code = self.issue_code(params.get("code_challenge").map(String::as_str), Some(redirect.as_str()));
        let mut location = redirect;
        location.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = params.get("state") {
            location.query_pairs_mut().append_pair("state", state);
        }
        Reply::empty(302).header("Location", location.to_string())
    }

    fn code_grant(&self, code: &str, redirect_uri: Option<&str>, verifier: Option<&str>) -> Reply {
        let outcome = self.with_state(|s| {
            if s.switches.oauth_flow_disabled {
                return Err("oauth_flow_disabled");
            }
            let Some(issued) = s.auth_codes.remove(code) else { return Err("expired_authorization_code") };
            let Some(redirect_uri) = redirect_uri else { return Err("redirect_uri_mismatch") };
            if issued.redirect_uri.as_deref().is_some_and(|r| r != redirect_uri) {
                return Err("redirect_uri_mismatch");
            }
            if let Some(challenge) = &issued.challenge {
                match verifier {
                    None => return Err("missing_code_verifier"),
                    Some(v) if pkce_challenge(v) != *challenge => return Err("invalid_code_verifier"),
                    Some(_) => {}
                }
            }
            let refresh = self.new_refresh_token(s);
            Ok(self.grant(s, Some(refresh)))
        });
        match outcome {
            Ok(body) => Reply::json(200, &body),
            Err(key) => Reply::token_error(key),
        }
    }

    fn device_code(&self, client_id: Option<&str>) -> Reply {
        if client_id != Some(SimulatedOrg::CLIENT_ID) {
            return Reply::token_error("invalid_client_id");
        }
        let outcome = self.with_state(|s| {
            if s.switches.oauth_flow_disabled {
                return Err("oauth_flow_disabled");
            }
            s.grants += 1;
            let device_code = token_chars(self.spec.seed, s.grants, 0xDE71, 42).replace(['.', '_'], "x");
            let user_code: String =
                token_chars(self.spec.seed, s.grants, 0x05E2, 8).to_uppercase().replace(['.', '_'], "7");
            s.device_codes.insert(device_code.clone(), 0);
            Ok(json!({
                "user_code": user_code,
                "device_code": device_code,
                "interval": s.switches.device.interval_secs,
                "verification_uri": format!("{}/setup/connect", self.instance_url),
            }))
        });
        match outcome {
            Ok(body) => Reply::json(200, &body),
            Err(key) => Reply::token_error(key),
        }
    }

    fn device_grant(&self, code: &str) -> Reply {
        let outcome = self.with_state(|s| {
            if s.switches.oauth_flow_disabled {
                return Err("oauth_flow_disabled");
            }
            let plan = s.switches.device;
            let Some(polls) = s.device_codes.get_mut(code) else { return Err("invalid_device_code") };
            *polls += 1;
            let n = *polls;
            if n <= plan.slow_down {
                return Err("slow_down");
            }
            if n <= plan.slow_down + plan.pending {
                return Err("authorization_pending");
            }
            s.device_codes.remove(code);
            let refresh = self.new_refresh_token(s);
            Ok(self.grant(s, Some(refresh)))
        });
        match outcome {
            Ok(body) => Reply::json(200, &body),
            Err(key) => Reply::token_error(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The totals counted at start are found for the queries a collection sends (whatever
    /// their select list and order) and equal the scan's.
    #[test]
    fn totals_counted_at_start_serve_the_collections_assignment_queries() {
        let data = OrgData::generate(&OrgSpec::with_users(3_000));
        let totals = totals_at_start(&data);
        assert_eq!(totals.len(), COUNTED_AT_START.len());
        for soql in [
            "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign ORDER BY AssigneeId, Id",
            "SELECT Id, UserId, PackageLicenseId FROM UserPackageLicense ORDER BY UserId, Id",
            "SELECT Id, UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId, Id",
            "SELECT Id, AssigneeId, PermissionSetId, PermissionSetGroupId FROM PermissionSetAssignment WHERE \
             PermissionSet.IsOwnedByProfile = false AND (PermissionSet.LicenseId != null OR \
             PermissionSetGroupId != null) ORDER BY AssigneeId, Id",
        ] {
            let query = parse_unhidden(soql).unwrap();
            let counted = totals.get(&query.total_key()).copied();
            assert_eq!(counted, Some(scan_total(&data, &query)), "{soql}");
            assert!(counted.is_some_and(|total| total > 0), "{soql}");
        }
        let other = parse_unhidden("SELECT Id FROM UserLogin WHERE IsFrozen = false").unwrap();
        assert!(!totals.contains_key(&other.total_key()));
    }

    #[test]
    fn release_labels_follow_salesforce_naming() {
        assert_eq!(release_label(20), "Winter '11");
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(65), "Winter '26");
        assert_eq!(release_label(66), "Spring '26");
        assert_eq!(release_label(67), "Summer '26");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

//! A simulated Salesforce org served by wiremock on 127.0.0.1, for tests, the demo and the
//! benchmark.
//!
//! Owns: deterministic org data of any size (users are generated from their index, so a
//! million-user org costs no memory up front), Salesforce-shaped responses (token endpoint with
//! refresh, authorization-code and device grants; versions; query/queryAll paging; describe;
//! limits; identity) and switches that inject faults ([`Faults`]); and what the crates' tests
//! share around it: [`BlockingOrg`] (the org for synchronous tests), [`Sandbox`] (a program run
//! with a temporary HOME and XDG directories), [`SharedBuffer`], [`quick_retry`] and
//! [`assert_valid_snapshot`]; and [`postgres::Cluster`], a real PostgreSQL server in a temporary
//! directory for the store's PostgreSQL backend (initdb and pg_ctl of the `postgresql` package).
//! Must not: contact any host other than loopback, be a dependency of shipped crates, or
//! depend on the crates above the HTTP layer (collect, cli): they test with it.
//!
//! The login URL is `http://127.0.0.1:PORT`; token responses send clients to
//! `http://localhost:PORT` (same server, another loopback name), so a client that keeps using the
//! login host for data calls is noticed. Fixtures (describe, errors, limits, identity) live in
//! the repository's `fixtures/` folder and are compiled in with `include_str!`.

mod bulk;
mod data;
mod faults;
mod front;
mod harness;
mod ids;
pub mod postgres;
mod schema;
mod server;
mod server_flows;
mod soql;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wiremock::{Mock, MockServer, matchers::any};

pub use bulk::{BulkJobSeen, LIMIT_EXCEEDED_MESSAGE};
pub use data::{
    FEATURE_LICENCES, LOGIN_HISTORY_DAYS, LoginHistory, OrgData, Organization, PackageLicense, PermissionSet,
    PermissionSetAssignment, PermissionSetGroupComponent, PermissionSetLicense, PermissionSetLicenseAssign,
    Profile, REFERENCE_TIME, SPECIAL_USER_COUNT, SfDate, SfDateTime, User, UserChanges, UserLicense,
    UserLogin, UserPackageLicense,
};
pub use faults::{
    DeviceFlowPlan, Fault, FaultId, FaultKind, Faults, HiddenAs, Occurrence, Target, TokenError,
    rest_error_body,
};
pub use harness::{
    BlockingOrg, ONE_RETRY_ENV, Sandbox, SharedBuffer, assert_valid_snapshot, names_in, quick_retry,
    snapshot_schema,
};
pub use server::counted_at_start;

/// Size and shape of the simulated org.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgSpec {
    /// Number of users. The first [`SPECIAL_USER_COUNT`] are the hand-written edge cases, the
    /// rest follow a realistic mix.
    pub users: usize,
    /// Seed of the generated data.
    pub seed: u64,
    /// Delay added to every response (for the benchmark).
    pub latency: Duration,
    /// The org's own time to answer one query page (for the benchmark), added to the latency
    /// of every query and `nextRecordsUrl` request: building the page counts towards it, the
    /// rest is waited out after the page is built, outside every lock of the simulated org, so
    /// requests in flight at the same time do not queue behind one another, as on Salesforce.
    pub server_time: Duration,
    /// Builds the next page of a query cursor ahead, on a thread of its own, as soon as a page
    /// with a `nextRecordsUrl` has been answered (for the benchmark). The org serves every
    /// request from one thread and builds each answer under wiremock's lock, before the
    /// latency starts; without this, building a 2,000-user page (10–30 ms) is on the client's
    /// chain although the floor counts no time for it, and every other answer waits behind
    /// it. With it, the page the client asks for next is usually ready when it arrives (else
    /// the org waits for it), its server time is waited out as before, and what the answers
    /// hold is the same. The first page of a query is still built when it is asked for.
    pub build_ahead: bool,
    /// `Organization.Name`.
    pub org_name: String,
    /// Tells orgs of one fleet apart: the `Organization.Id` is the `00D` id with this number
    /// (1 unless set), so that a store sees each simulated org as an org of its own.
    pub org_number: u64,
    /// The domains the org's own staff use (informational, for tests and the demo).
    pub company_domains: Vec<String>,
    /// Initial daily API usage (`Sforce-Limit-Info: api-usage=USED/MAX`).
    pub api_usage_used: u64,
    pub api_usage_max: u64,
    /// Oldest and newest API version offered (majors).
    pub oldest_api_version: u32,
    pub newest_api_version: u32,
    /// How many requests [`SimulatedOrg::requests`] keeps (oldest dropped first); 0 = none.
    pub request_log_limit: usize,
    /// Users removed or deactivated since an earlier run of the same org.
    pub user_changes: UserChanges,
    /// `LoginHistory` size: a typical user's logins per month (some users have none, a few
    /// twice as many; see `OrgData::login_history_of`); 0 = no login history at all.
    pub logins_per_month: u32,
}

impl OrgSpec {
    /// Every edge case exactly once (about 40 users).
    pub fn small() -> Self {
        Self::with_users(SPECIAL_USER_COUNT)
    }

    /// The org shown by `cargo xtask demo`.
    pub fn demo() -> Self {
        Self::small()
    }

    /// `users` users: the edge cases first, then a realistic mix (mostly internal staff on
    /// acme.com, some subsidiaries, consultants, partners, community customers, chatter and guest
    /// users, integration users, a few look-alike domains).
    pub fn with_users(users: usize) -> Self {
        OrgSpec {
            users,
            seed: 0x5FC0_4E11,
            latency: Duration::ZERO,
            server_time: Duration::ZERO,
            build_ahead: false,
            org_name: "Acme Corporation".into(),
            org_number: 1,
            company_domains: vec!["acme.com".into(), "acme.io".into()],
            api_usage_used: 1_200,
            api_usage_max: 100_000,
            oldest_api_version: 31,
            newest_api_version: 66,
            request_log_limit: 10_000,
            user_changes: UserChanges::default(),
            logins_per_month: 4,
        }
    }
}

/// When a request reached the org: its number in arrival order (1 = the first request the org
/// received, whether or not the log still holds it) and the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Arrival {
    pub number: u64,
    pub at: Instant,
}

/// One request the org received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub arrival: Arrival,
    pub method: String,
    /// Full URL with query string.
    pub url: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long the org took to build its answer: from the request's arrival until the answer
    /// was ready, before the latency and the rest of the server time are waited out. `None`
    /// until it is answered. The benchmark reads it to tell the org's own time per page from
    /// the client's.
    pub handled_in: Option<Duration>,
}

impl RecordedRequest {
    /// The value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The URL path.
    pub fn path(&self) -> String {
        url::Url::parse(&self.url).map(|u| u.path().to_string()).unwrap_or_default()
    }
}

/// A running simulated org; the server stops when this is dropped.
pub struct SimulatedOrg {
    server: MockServer,
    shared: Arc<server::Shared>,
    faults: Faults,
}

impl SimulatedOrg {
    /// The connected app's consumer key.
    pub const CLIENT_ID: &'static str = "3MVG9sfconnSIMULATEDorgCLIENTidForLoopbackTestsOnly.x4Qw8Zr2Lk";
    /// The connected app's consumer secret.
    pub const CLIENT_SECRET: &'static str = "5E1F0C0FFEE5EC2E7A11CE0B0B5F00D5EED1234567890ABCDEF0123456789AB";
    /// The valid initial refresh token (of the integration user, user 0).
    pub const REFRESH_TOKEN: &'static str =
        "5Aep861sfconnSimulatedRefreshToken.Loopback0nly_q8ZrT2vWx9YbN3mKd7LhF4jGs6PcRa1EoUiQw";

    /// The TEST-ONLY private key whose public half the org trusts for the JWT bearer flow
    /// (`fixtures/test-only-jwt/`; never use it anywhere else).
    pub const TEST_JWT_PRIVATE_KEY: &'static str =
        include_str!("../../../fixtures/test-only-jwt/TEST-ONLY-sfconn-jwt.key");
    /// A TEST-ONLY private key the org does not trust (signature refused).
    pub const TEST_JWT_OTHER_PRIVATE_KEY: &'static str =
        include_str!("../../../fixtures/test-only-jwt/TEST-ONLY-other.key");

    /// Starts the org on a free loopback port.
    pub async fn start(spec: OrgSpec) -> Self {
        let server = MockServer::builder().disable_request_recording().start().await;
        let port = server.address().port();
        let login_url = format!("http://127.0.0.1:{port}");
        let instance_url = format!("http://localhost:{port}");
        let shared = Arc::new_cyclic(|me| server::Shared::new(spec, login_url, instance_url, me.clone()));
        Mock::given(any()).respond_with(server::Router { shared: Arc::clone(&shared) }).mount(&server).await;
        let faults = Faults { shared: Arc::clone(&shared) };
        SimulatedOrg { server, shared, faults }
    }

    /// The login URL to give sfconn: `http://127.0.0.1:PORT`.
    pub fn login_url(&self) -> String {
        self.shared.login_url.clone()
    }

    /// The instance URL the token endpoint hands out: `http://localhost:PORT`.
    pub fn instance_url(&self) -> String {
        self.shared.instance_url.clone()
    }

    /// The identity URL (`id` of token responses): `{login_url}/id/{orgId}/{userId}`.
    pub fn identity_url(&self) -> String {
        self.shared.identity_url()
    }

    /// Environment variables that point sfconn at this org with valid credentials.
    pub fn sfconn_env(&self) -> Vec<(String, String)> {
        vec![
            ("SFCONN_CLIENT_ID".into(), Self::CLIENT_ID.into()),
            ("SFCONN_CLIENT_SECRET".into(), Self::CLIENT_SECRET.into()),
            ("SFCONN_REFRESH_TOKEN".into(), Self::REFRESH_TOKEN.into()),
            ("SFCONN_LOGIN_URL".into(), self.login_url()),
        ]
    }

    /// The spec the org was started with.
    pub fn spec(&self) -> &OrgSpec {
        &self.shared.spec
    }

    /// The generated ground truth, for tests to compute expectations.
    pub fn data(&self) -> &OrgData {
        &self.shared.data
    }

    /// Runtime fault switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The most recent requests (up to `OrgSpec::request_log_limit`), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// How many requests the org has received (log limit or not).
    pub fn requests_received(&self) -> u64 {
        self.shared.requests_received()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// How many requests reached the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.shared.with_state(|s| s.token_requests)
    }

    /// The daily API usage as `(used, max)`; `used` grows by one per authenticated data request.
    pub fn api_usage(&self) -> (u64, u64) {
        self.shared.with_state(|s| (s.usage_used, s.usage_max))
    }

    /// The refresh tokens the org currently accepts (after rotation: only the newest one).
    pub fn valid_refresh_tokens(&self) -> Vec<String> {
        let mut tokens: Vec<String> = self.shared.with_state(|s| s.refresh_tokens.iter().cloned().collect());
        tokens.sort();
        tokens
    }

    /// Simulates the browser step of the authorization-code flow: the user approved the app and
    /// Salesforce redirected with this code (single use; `code_challenge` = base64url SHA-256 of
    /// the PKCE verifier). Any `redirect_uri` is then accepted at the token endpoint.
    pub fn issue_authorization_code(&self, code_challenge: Option<&str>) -> String {
        self.shared.issue_code(code_challenge, None)
    }

    /// Like [`SimulatedOrg::issue_authorization_code`], but the token exchange must send exactly
    /// this `redirect_uri`.
    pub fn issue_authorization_code_for(&self, redirect_uri: &str, code_challenge: Option<&str>) -> String {
        self.shared.issue_code(code_challenge, Some(redirect_uri))
    }

    /// The username of the integration user: the JWT bearer flow's subject and the client
    /// credentials flow's run-as user.
    pub fn integration_username(&self) -> String {
        self.shared.data.integration_user().username.clone()
    }

    /// Whether the app has a run-as user for the client credentials flow (default: yes).
    pub fn set_client_credentials_run_as_user(&self, enabled: bool) {
        self.shared.flows.update(|switches| switches.run_as_user = enabled);
    }

    /// Whether the integration user is pre-authorized for the JWT bearer flow (default: yes).
    pub fn set_jwt_pre_authorized(&self, enabled: bool) {
        self.shared.flows.update(|switches| switches.jwt_pre_authorized = enabled);
    }

    /// Puts a TCP front between sfconn and the org for data requests (token responses then
    /// send clients to `http://127.0.0.1:FRONT`), so that [`FaultKind::Reset`],
    /// [`FaultKind::NoAnswer`], [`FaultKind::CutGzip`] and [`FaultKind::Trickle`] can be
    /// staged. Returns the front's URL. The token endpoint stays direct.
    pub fn serve_data_through_front(&self) -> std::io::Result<String> {
        let port = front::start(self.server.address().port())?;
        let url = format!("http://127.0.0.1:{port}");
        self.faults.override_instance_url(Some(&url));
        Ok(url)
    }

    /// The Bulk API 2.0 query jobs the org received, oldest first.
    pub fn bulk_jobs(&self) -> Vec<BulkJobSeen> {
        self.shared.bulk_jobs_seen()
    }

    /// The underlying wiremock server (e.g. to mount extra mocks in front of the simulator).
    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

//! A simulated Salesforce org served by wiremock on 127.0.0.1, for tests, the demo and the
//! benchmark.
//!
//! Owns: deterministic org data of any size, Salesforce-shaped responses (token endpoint,
//! versions, query paging, describe, limits) and switches that inject faults.
//! Must not: contact any host other than loopback, or be a dependency of shipped crates.

/// Size and shape of the simulated org.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    /// Number of users.
    pub users: usize,
}

impl OrgSpec {
    /// The org shown by `cargo xtask demo`.
    pub fn demo() -> Self {
        Self { users: 40 }
    }
}

/// A running simulated org.
pub struct SimulatedOrg {
    server: wiremock::MockServer,
}

impl SimulatedOrg {
    /// Starts the org on a free loopback port.
    pub async fn start(_spec: OrgSpec) -> Self {
        Self { server: wiremock::MockServer::start().await }
    }

    /// The login URL to give sfconn.
    pub fn login_url(&self) -> String {
        self.server.uri()
    }

    /// Environment variables that point sfconn at this org.
    pub fn sfconn_env(&self) -> Vec<(String, String)> {
        vec![("SFCONN_LOGIN_URL".into(), self.login_url())]
    }
}

//! The org's daily API request usage: the `Sforce-Limit-Info` header and `GET /limits`.

use serde::Deserialize;

/// Daily API requests used out of the org's allowance (rolling 24 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ApiUsage {
    /// Requests used.
    pub used: u64,
    /// The allowance.
    pub max: u64,
}

impl ApiUsage {
    /// Share of the allowance used, in percent (`used / max * 100`, may exceed 100). An org
    /// whose allowance is 0 has no room at all: 100.
    pub fn percent(&self) -> f64 {
        if self.max == 0 {
            return 100.0;
        }
        self.used as f64 * 100.0 / self.max as f64
    }

    /// Whether the usage is above `max_percent` (the `limits.max_api_usage_percent` rule).
    pub fn is_above_percent(&self, max_percent: u8) -> bool {
        self.percent() > f64::from(max_percent)
    }

    /// Requests left before the allowance is used up.
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

impl std::fmt::Display for ApiUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} daily API requests ({:.1}%)", self.used, self.max, self.percent())
    }
}

/// Reads `api-usage=U/M` from a `Sforce-Limit-Info` value such as
/// `api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)` or
/// `api-usage=10018/100000; api-bursts=1/750`. The per-app and burst parts are ignored.
pub fn parse_limit_info(value: &str) -> Option<ApiUsage> {
    value.split([';', ',']).find_map(|part| {
        let figures = part.trim().strip_prefix("api-usage=")?;
        let (used, max) = figures.split_once('/')?;
        // Tolerate a trailing `(appName=...)` even on the org-wide part.
        let max = max.split('(').next().unwrap_or(max);
        Some(ApiUsage { used: used.trim().parse().ok()?, max: max.trim().parse().ok()? })
    })
}

/// One entry of `GET /limits`. Per-app entries nested inside are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct LimitEntry {
    #[serde(rename = "Max")]
    pub(crate) max: u64,
    #[serde(rename = "Remaining")]
    pub(crate) remaining: u64,
}

/// The `GET /limits` body; only `DailyApiRequests` is needed.
#[derive(Debug, Deserialize)]
pub(crate) struct LimitsBody {
    #[serde(rename = "DailyApiRequests")]
    pub(crate) daily_api_requests: LimitEntry,
}

impl LimitsBody {
    pub(crate) fn usage(&self) -> ApiUsage {
        let entry = &self.daily_api_requests;
        ApiUsage { used: entry.max.saturating_sub(entry.remaining), max: entry.max }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_wide_usage_is_read() {
        assert_eq!(parse_limit_info("api-usage=18/5000"), Some(ApiUsage { used: 18, max: 5000 }));
    }

    #[test]
    fn per_app_and_burst_parts_do_not_confuse_it() {
        let with_app = "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)";
        assert_eq!(parse_limit_info(with_app), Some(ApiUsage { used: 25, max: 5000 }));
        let app_first = "per-app-api-usage=17/250(appName=x); api-usage=26/5000";
        assert_eq!(parse_limit_info(app_first), Some(ApiUsage { used: 26, max: 5000 }));
        let bursts = "api-usage=10018/100000; api-bursts=1/750";
        assert_eq!(parse_limit_info(bursts), Some(ApiUsage { used: 10018, max: 100000 }));
    }

    #[test]
    fn garbage_is_none() {
        for value in ["", "api-usage=", "api-usage=x/5000", "api-usage=5", "per-app-api-usage=1/2(appName=a)"]
        {
            assert_eq!(parse_limit_info(value), None, "{value}");
        }
    }

    #[test]
    fn percent_and_threshold() {
        let usage = ApiUsage { used: 4500, max: 5000 };
        assert_eq!(usage.percent(), 90.0);
        assert!(!usage.is_above_percent(90));
        assert!(ApiUsage { used: 4501, max: 5000 }.is_above_percent(90));
        assert_eq!(ApiUsage { used: 0, max: 0 }.percent(), 100.0);
        assert_eq!(usage.remaining(), 500);
        assert_eq!(usage.to_string(), "4500/5000 daily API requests (90.0%)");
    }

    #[test]
    fn limits_body_used_is_max_minus_remaining() {
        let body = r#"{"ConcurrentAsyncGetReportInstances":{"Max":200,"Remaining":200},
            "DailyApiRequests":{"Max":15000,"Remaining":14998,"Workbench":{"Max":0,"Remaining":0}}}"#;
        let parsed: LimitsBody = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.usage(), ApiUsage { used: 2, max: 15000 });
    }
}

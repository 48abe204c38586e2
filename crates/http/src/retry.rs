//! The one retry policy of sfconn: exponential backoff with full jitter, capped, honouring
//! `Retry-After`. [`crate::Http::retrying`] applies it to the token client (`auth`) and the
//! REST client (`api`) alike, so every transient failure is retried the same way.

use std::time::Duration;

/// When to retry and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`http.max_retries`).
    pub max_retries: u32,
    /// Backoff of the first retry before jitter.
    pub base_delay: Duration,
    /// No single wait is longer than this, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 5, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// A policy with the given number of retries and the default delays.
    pub fn with_max_retries(max_retries: u32) -> Self {
        Self { max_retries, ..Self::default() }
    }

    /// Whether attempt number `retry` (1 for the first retry) is still allowed.
    pub fn allows(&self, retry: u32) -> bool {
        retry <= self.max_retries
    }

    /// The wait before retry number `retry` (1-based). A server's `Retry-After` wins when
    /// present; otherwise full jitter over `base * 2^(retry-1)`, both capped at `max_delay`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let exp = retry.saturating_sub(1).min(20);
        let ceiling = self.base_delay.saturating_mul(1u32 << exp).min(self.max_delay);
        ceiling.mul_f64(jitter_fraction())
    }
}

/// Parses a `Retry-After` header value in seconds (the HTTP-date form is ignored).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn jitter_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 1.0;
    }
    // 53 random bits give a uniform fraction in [0, 1).
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_but_is_capped() {
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(policy.delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(60))), Duration::from_secs(5));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for retry in 1..=10 {
            let ceiling = Duration::from_millis(100 * (1 << (retry - 1))).min(Duration::from_secs(1));
            assert!(policy.delay(retry, None) <= ceiling);
        }
    }

    #[test]
    fn backoff_is_jittered_and_grows_with_the_retry() {
        let policy = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(60),
        };
        // Retry 4's ceiling is 800 ms; with full jitter, 200 draws all at or below retry 1's
        // ceiling (100 ms) would have a probability of (1/8)^200.
        let draws: Vec<Duration> = (0..200).map(|_| policy.delay(4, None)).collect();
        assert!(draws.iter().any(|d| *d > Duration::from_millis(100)), "backoff does not grow");
        assert!(draws.iter().any(|d| *d != draws[0]), "backoff is not jittered");
    }

    #[test]
    fn allows_exactly_max_retries() {
        let policy = RetryPolicy::with_max_retries(2);
        assert!(policy.allows(1) && policy.allows(2) && !policy.allows(3));
    }

    #[test]
    fn retry_after_in_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}

//! When to fetch next: polling with jitter, exponential backoff with full
//! jitter after failures, and the server's `Retry-After` / `max-age`.
//!
//! Pure: the caller passes the random source; no clock, no I/O.

use rand::Rng;
use std::time::Duration;

/// Polling and backoff settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Time between polls after a success (default 5 minutes).
    pub poll_interval: Duration,
    /// Each poll interval is scaled by a random factor in
    /// `[1 - poll_jitter, 1 + poll_jitter]` so a fleet does not poll in step
    /// (default 0.1).
    pub poll_jitter: f64,
    /// First backoff ceiling after a failure (default 1 s); doubles with each
    /// consecutive failure.
    pub backoff_base: Duration,
    /// Largest backoff ceiling (default 5 minutes).
    pub backoff_cap: Duration,
    /// Most the client defers to a server's `Retry-After` or `max-age`
    /// (default 1 hour), so a misconfigured header cannot silence updates.
    pub max_server_delay: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            poll_interval: Duration::from_secs(300),
            poll_jitter: 0.1,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            max_server_delay: Duration::from_secs(3600),
        }
    }
}

impl Schedule {
    /// Delay before the next poll after a success: the jittered interval, or
    /// the response's `max-age` when that is longer.
    pub fn after_success(&self, max_age: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let j = self.poll_jitter.clamp(0.0, 1.0);
        let factor = if j > 0.0 {
            rng.gen_range(1.0 - j..=1.0 + j)
        } else {
            1.0
        };
        let polled = self.poll_interval.mul_f64(factor);
        match max_age {
            Some(age) => polled.max(age.min(self.max_server_delay)),
            None => polled,
        }
    }

    /// Delay before the next attempt after `consecutive_failures` (1 for the
    /// first) failures: full jitter, uniform in `[0, min(cap, base * 2^(n-1))]`,
    /// but never sooner than the server's `Retry-After`.
    pub fn after_failure(
        &self,
        consecutive_failures: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let ceiling = self.backoff_ceiling(consecutive_failures);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(if nanos == 0 {
            0
        } else {
            rng.gen_range(0..=nanos)
        });
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.max_server_delay)),
            None => jittered,
        }
    }

    /// The backoff ceiling after `n` consecutive failures.
    pub fn backoff_ceiling(&self, n: u32) -> Duration {
        let shift = n.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << shift)
            .min(self.backoff_cap)
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (IMF-fixdate),
/// relative to `now_unix_s`.
pub fn parse_retry_after(value: &str, now_unix_s: i64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(v)?;
    Some(Duration::from_secs(
        u64::try_from(at - now_unix_s).unwrap_or(0),
    ))
}

/// Parses `Sun, 06 Nov 1994 08:49:37 GMT` into unix seconds.
fn parse_http_date(v: &str) -> Option<i64> {
    let format = time::format_description::parse_borrowed::<1>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    let dt = time::PrimitiveDateTime::parse(v, &format).ok()?;
    Some(dt.assume_utc().unix_timestamp())
}

/// The `max-age` of a `Cache-Control` value; `no-cache`/`no-store` give none.
pub fn parse_max_age(cache_control: &str) -> Option<Duration> {
    let mut max_age = None;
    for d in cache_control.split(',').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return None;
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            max_age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_grows_to_the_cap_and_stays_under_the_ceiling() {
        let s = Schedule {
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            ..Schedule::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(s.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(s.backoff_ceiling(3), Duration::from_millis(400));
        assert_eq!(s.backoff_ceiling(40), Duration::from_secs(2));
        for n in 1..50 {
            assert!(s.after_failure(n, None, &mut rng) <= s.backoff_ceiling(n));
        }
        let ra = s.after_failure(1, Some(Duration::from_secs(30)), &mut rng);
        assert_eq!(ra, Duration::from_secs(30));
        let capped = s.after_failure(1, Some(Duration::from_secs(86_400)), &mut rng);
        assert_eq!(capped, s.max_server_delay);
    }

    #[test]
    fn polls_are_jittered_and_honour_max_age() {
        let s = Schedule::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let d: Vec<_> = (0..20).map(|_| s.after_success(None, &mut rng)).collect();
        assert!(d
            .iter()
            .all(|d| *d >= Duration::from_secs(270) && *d <= Duration::from_secs(330)));
        assert!(d.windows(2).any(|w| w[0] != w[1]));
        let long = s.after_success(Some(Duration::from_secs(900)), &mut rng);
        assert_eq!(long, Duration::from_secs(900));
    }

    #[test]
    fn header_parsing() {
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        let at = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770);
        assert_eq!(at, Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-cache, max-age=600"), None);
    }
}

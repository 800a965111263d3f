//! An in-memory token bucket per key. Each web node keeps its own buckets, so
//! behind a load balancer the limit is per node: a guard against a runaway
//! client, not a billing meter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::settings::RateSettings;

/// Above this many buckets, full ones (idle keys) are dropped: a missing
/// bucket and a full one mean the same thing.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(rate: RateSettings) -> Self {
        Self {
            per_sec: f64::from(rate.per_min.max(1)) / 60.0,
            burst: f64::from(rate.burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is free.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket { tokens: tokens - 1.0, at: now };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_sec))
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.per_sec).min(self.burst)
    }
}

/// Whole seconds to tell a client to wait (never 0: it would retry at once).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_refill() {
        let limiter = RateLimiter::new(RateSettings { per_min: 60, burst: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("k", t0).is_ok());
        }
        let wait = limiter.check_at("k", t0).unwrap_err();
        assert_eq!(retry_after_secs(wait), 1, "one token a second");
        assert!(limiter.check_at("other", t0).is_ok(), "each key has its own bucket");
        assert!(limiter.check_at("k", t0 + Duration::from_millis(500)).is_err());
        assert!(limiter.check_at("k", t0 + Duration::from_millis(1000)).is_ok());
        assert!(limiter.check_at("k", t0 + Duration::from_millis(1000)).is_err());
        // A long pause refills to the burst, no further.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(limiter.check_at("k", later).is_ok());
        }
        assert!(limiter.check_at("k", later).is_err());
    }

    #[test]
    fn slow_rates_ask_for_longer_waits_rounded_up() {
        let limiter = RateLimiter::new(RateSettings { per_min: 6, burst: 1 });
        let t0 = Instant::now();
        assert!(limiter.check_at("k", t0).is_ok());
        assert_eq!(retry_after_secs(limiter.check_at("k", t0).unwrap_err()), 10);
        let wait = limiter.check_at("k", t0 + Duration::from_millis(2500)).unwrap_err();
        assert_eq!(retry_after_secs(wait), 8, "7.5 s rounds up");
        assert_eq!(retry_after_secs(Duration::ZERO), 0);
    }

    #[test]
    fn idle_buckets_are_pruned_when_there_are_many() {
        let limiter = RateLimiter::new(RateSettings { per_min: 60, burst: 2 });
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            limiter.check_at(&format!("k{i}"), t0).unwrap();
        }
        limiter.check_at("busy", t0).unwrap();
        limiter.check_at("busy", t0 + Duration::from_millis(900)).unwrap();
        limiter.check_at("last", t0 + Duration::from_millis(1500)).unwrap();
        let buckets = limiter.buckets.lock().unwrap();
        assert!(buckets.len() < 10, "{} buckets left", buckets.len());
        assert!(buckets.contains_key("busy"), "a bucket still refilling is kept");
    }
}

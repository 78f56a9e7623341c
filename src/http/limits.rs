//! Limits on what callers may ask of the gateway, as tower layers (built
//! in `http/mod.rs`): a deadline per request, a cap on requests in flight
//! that sheds the excess at once, and a rate per principal. The body's
//! size and nesting depth are checked where the body is read, in
//! `body.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tower::load_shed::error::Overloaded;
use tower::timeout::error::Elapsed;
use tower::BoxError;

use super::auth::Principal;
use super::problem::Problem;
use crate::config::Rate;

/// The answer to an error of the timeout or load-shedding layer.
pub fn refusal(error: &BoxError, deadline: Duration) -> Problem {
    if error.is::<Overloaded>() {
        Problem::overloaded()
    } else if error.is::<Elapsed>() {
        Problem::request_timeout(deadline)
    } else {
        // The layers below answer every other failure themselves.
        Problem::internal(format!("the request failed: {error}"))
    }
}

/// How many checks pass between sweeps of idle principals' state.
const SWEEP_EVERY: u64 = 4096;

/// A rate limit per principal name (GCRA, from `governor`).
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl RateLimiter {
    /// A limiter allowing `rate` to each principal.
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(rate.per_second).allow_burst(rate.burst),
            ),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts a request of `name`: Err with the wait until the next one
    /// would pass.
    fn check(&self, name: &str) -> Result<(), Duration> {
        // Token subjects are unbounded: now and then, forget the state of
        // principals idle long enough to have their whole burst back.
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&name.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The rate-limit layer: 429 with `Retry-After` when the request's
/// principal (put there by the authentication layer outside this one) is
/// over its rate.
pub async fn limit_rate(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let name = request
        .extensions()
        .get::<Principal>()
        .map(|principal| principal.name.as_str())
        .unwrap_or_default();
    match limiter.check(name) {
        Ok(()) => next.run(request).await,
        Err(wait) => Problem::rate_limited(name, wait).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn idle_principals_are_forgotten() {
        let fast = NonZeroU32::new(1000).unwrap();
        let limiter = RateLimiter::new(Rate {
            per_second: fast,
            burst: NonZeroU32::MIN,
        });
        for n in 0..SWEEP_EVERY - 1 {
            assert!(limiter.check(&format!("p{n}")).is_ok());
        }
        assert_eq!(limiter.limiter.len() as u64, SWEEP_EVERY - 1);
        // A millisecond gives each its one-request burst back.
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.check("last").is_ok());
        assert!(limiter.limiter.len() <= 1, "{}", limiter.limiter.len());
    }
}

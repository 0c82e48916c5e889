//! Throttles kept in memory by the service: in-flight login checks per
//! account and client, spaced checks of an account under attack, and the
//! per-account and per-address budgets of costly or state-growing calls
//! (password changes, API token minting).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use plantdb_auth_core::model::Username;
use plantdb_auth_core::store::ClientKey;
use plantdb_auth_core::window::SlidingWindow;

use crate::AuthError;

/// Limits of the throttles; every one is configurable at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// While an account is under attack, one password check per this long.
    pub slowdown: Duration,
    /// Longest a login waits for its turn before a 429.
    pub max_login_wait: Duration,
    /// Password changes per account, and per client address, per window.
    pub password_changes_per_account: u32,
    pub password_changes_per_address: u32,
    /// API tokens one user may mint per window.
    pub api_token_mints: u32,
    /// The window of the budgets above.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            slowdown: Duration::from_secs(1),
            max_login_wait: Duration::from_secs(10),
            password_changes_per_account: 5,
            password_changes_per_address: 20,
            api_token_mints: 30,
            window: Duration::from_secs(900),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Budget {
    PasswordAccount(Username),
    PasswordAddress(ClientKey),
    Mint(Username),
}

/// Bound on the accounts tracked for spacing: old slots are dropped first.
const MAX_SLOTS: usize = 10_000;

#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    inflight: Mutex<HashMap<(Username, ClientKey), u32>>,
    slots: Mutex<HashMap<Username, Instant>>,
    budgets: SlidingWindow<Budget>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(ThrottlePolicy::default())
    }
}

/// A reserved password check; dropping it frees the reservation.
pub(crate) struct InFlight<'a> {
    throttle: &'a Throttle,
    key: (Username, ClientKey),
    /// Checks of this key in flight when it was taken, itself included.
    pub(crate) ahead: u32,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut inflight = self.throttle.inflight.lock();
        if let Some(n) = inflight.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inflight.remove(&self.key);
            }
        }
    }
}

fn too_many(what: &str, retry_after: u64) -> AuthError {
    AuthError::TooManyRequests {
        message: format!("Too many {what}: try again in {retry_after} s"),
        retry_after,
    }
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Throttle {
            policy,
            inflight: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            budgets: SlidingWindow::new(policy.window),
        }
    }

    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// Reserves one password check of `client` on `user`; the reservation
    /// knows how many checks (itself included) were in flight when it was
    /// taken. The caller reads the stored failures *after* reserving, so a
    /// check that ended meanwhile is counted (perhaps twice, never zero
    /// times): a burst of concurrent guesses verifies at most the threshold.
    pub(crate) fn reserve(&self, user: &Username, client: &ClientKey) -> InFlight<'_> {
        let key = (user.clone(), client.clone());
        let mut inflight = self.inflight.lock();
        let running = inflight.entry(key.clone()).or_insert(0);
        *running = running.saturating_add(1);
        let ahead = *running;
        drop(inflight);
        InFlight {
            throttle: self,
            key,
            ahead,
        }
    }

    /// The turn of one check of an account under attack: how long to wait
    /// for it, or a 429 when the queue is longer than `max_login_wait`.
    pub(crate) fn turn(&self, user: &Username, now: Instant) -> Result<Duration, AuthError> {
        let mut slots = self.slots.lock();
        if slots.len() >= MAX_SLOTS {
            slots.retain(|_, next| *next > now);
        }
        let next = slots.get(user).copied().filter(|t| *t > now).unwrap_or(now);
        let wait = next.duration_since(now);
        if wait > self.policy.max_login_wait {
            return Err(too_many(
                "login attempts on this account from several addresses",
                wait.as_secs().max(1),
            ));
        }
        slots.insert(user.clone(), next + self.policy.slowdown);
        Ok(wait)
    }

    /// Counts a password change of `user` from `client`.
    pub(crate) fn password_change(
        &self,
        user: &Username,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let now = Instant::now();
        let p = self.policy;
        self.budgets
            .check(
                Budget::PasswordAccount(user.clone()),
                p.password_changes_per_account,
                now,
            )
            .and_then(|()| {
                self.budgets.check(
                    Budget::PasswordAddress(ClientKey::of(client)),
                    p.password_changes_per_address,
                    now,
                )
            })
            .map_err(|wait| too_many("password changes", wait))
    }

    /// Counts an API token minted by `user`.
    pub(crate) fn mint(&self, user: &Username) -> Result<(), AuthError> {
        self.budgets
            .check(
                Budget::Mint(user.clone()),
                self.policy.api_token_mints,
                Instant::now(),
            )
            .map_err(|wait| too_many("API tokens minted", wait))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_what_is_in_flight_and_free_on_drop() {
        let t = Throttle::default();
        let (u, c) = (Username::parse("ann").unwrap(), ClientKey::of(None));
        let a = t.reserve(&u, &c);
        let b = t.reserve(&u, &c);
        assert_eq!((a.ahead, b.ahead), (1, 2));
        drop(a);
        assert_eq!(t.reserve(&u, &c).ahead, 2);
        drop(b);
        assert!(t.inflight.lock().is_empty());
    }

    #[test]
    fn turns_are_spaced_and_bounded() {
        let t = Throttle::new(ThrottlePolicy {
            slowdown: Duration::from_secs(1),
            max_login_wait: Duration::from_secs(3),
            ..ThrottlePolicy::default()
        });
        let (u, now) = (Username::parse("ann").unwrap(), Instant::now());
        let waits: Vec<u64> = (0..4).map(|_| t.turn(&u, now).unwrap().as_secs()).collect();
        assert_eq!(waits, [0, 1, 2, 3]);
        assert!(matches!(
            t.turn(&u, now),
            Err(AuthError::TooManyRequests { .. })
        ));
        assert_eq!(
            t.turn(&u, now + Duration::from_secs(10)).unwrap(),
            Duration::ZERO
        );
    }
}

//! Lockout per account and client address.
//!
//! Failed password checks are counted twice: per account (the record's
//! `failed_attempts`, as the Python server keeps it) and per client address
//! of that account. Only the per-client count locks: an attacker's wrong
//! guesses from one address lock that address out of the account, not the
//! owner logging in from elsewhere. The per-account count only slows checks
//! down (the service spaces them out, see `LoginThrottle`).
//!
//! The per-client counts travel with the record (an extra key of
//! `users.json`, which the Python tools ignore and drop; a column of the
//! PostgreSQL row), so every instance sharing a store sees the same locks.
//! Addresses are stored as a short keyed-free hash (a pseudonym: it keeps
//! client addresses out of casual reading of the file, not from a
//! determined reader, who can hash the IPv4 space).
//!
//! The account's `locked_until` mirrors the latest client lock, so admins
//! and the Python tools see that the account is under a lock. A lock in
//! `locked_until` that no client entry explains was set by another tool
//! (the Python server locks whole accounts) and is honoured for everyone.

use std::net::{IpAddr, Ipv6Addr};

use blake2::{Blake2s256, Digest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::LockoutPolicy;
use crate::model::User;

/// The record key holding the per-client counts.
pub const CLIENT_LOCKS_KEY: &str = "_client_lockouts";

/// Client entries kept per account; the stalest go first. An attacker with
/// more addresses than this only evicts unlocked entries while locked ones
/// remain, so a lock is never lifted by eviction before it would expire.
pub const MAX_CLIENTS_TRACKED: usize = 64;

/// The group a client address counts in: its IPv4 address, or the /64 of an
/// IPv6 address (one subscriber usually holds a whole /64).
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Who tried: a pseudonym of the client's address group. Callers that
/// know no address (the seed's `authenticate_user`, the CLI) share one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn of(ip: Option<IpAddr>) -> Self {
        let text = match ip {
            Some(ip) => address_group(ip).to_string(),
            None => "unknown".to_string(),
        };
        let digest = Blake2s256::digest(format!("plantdb-auth lockout\0{text}").as_bytes());
        ClientKey(hex::encode(&digest[..8]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Failures of one client address on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientLock {
    pub client: String,
    pub failures: u32,
    pub last_failure: DateTime<Utc>,
    #[serde(default)]
    pub locked_until: Option<DateTime<Utc>>,
}

impl ClientLock {
    fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

/// The per-client entries of a record (unreadable entries are dropped: they
/// only ever hold counters).
pub fn client_locks(user: &User) -> Vec<ClientLock> {
    match user.extra.get(CLIENT_LOCKS_KEY) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect(),
        _ => Vec::new(),
    }
}

fn set_client_locks(user: &mut User, locks: Vec<ClientLock>) {
    if locks.is_empty() {
        user.extra.remove(CLIENT_LOCKS_KEY);
        return;
    }
    let items: Vec<Value> = locks
        .iter()
        .filter_map(|l| serde_json::to_value(l).ok())
        .collect();
    user.extra
        .insert(CLIENT_LOCKS_KEY.to_string(), Value::Array(items));
}

/// A whole-account lock set by another tool (see the module comment).
fn foreign_lock(user: &User, locks: &[ClientLock], now: DateTime<Utc>) -> bool {
    user.is_locked(now) && !locks.iter().any(|l| l.locked_until == user.locked_until)
}

/// Whether `client` may not try a password on this account now.
pub fn is_locked_for(user: &User, client: &ClientKey, now: DateTime<Utc>) -> bool {
    let locks = client_locks(user);
    foreign_lock(user, &locks, now)
        || locks
            .iter()
            .any(|l| l.client == client.as_str() && l.is_locked(now))
}

/// Consecutive failures `client` has on this account (0 once a lock ran out).
pub fn failures_of(user: &User, client: &ClientKey, now: DateTime<Utc>) -> u32 {
    client_locks(user)
        .iter()
        .find(|l| l.client == client.as_str())
        .filter(|l| l.locked_until.is_none_or(|until| now < until))
        .map_or(0, |l| l.failures)
}

/// When any lock of the account ends (the latest), if one holds now.
pub fn locked_until(user: &User, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let locks = client_locks(user);
    let client = locks
        .iter()
        .filter(|l| l.is_locked(now))
        .filter_map(|l| l.locked_until)
        .max();
    let account = user.locked_until.filter(|_| user.is_locked(now));
    client.max(account)
}

/// Whether the account has failed often enough lately, from any address,
/// that its checks should be spaced out.
pub fn under_attack(user: &User, policy: LockoutPolicy, now: DateTime<Utc>) -> bool {
    user.failed_attempts >= policy.max_failed_attempts
        && user
            .last_failed_attempt
            .is_some_and(|at| now < at + policy.lockout_duration)
}

/// Counts a failure of `client`: the Nth consecutive one locks that client
/// out of the account for the policy's duration.
pub fn record_failure(
    user: &mut User,
    client: &ClientKey,
    now: DateTime<Utc>,
    policy: LockoutPolicy,
) {
    // The account counter: an expired lock or a quiet period starts afresh.
    let stale = user
        .last_failed_attempt
        .is_none_or(|at| at + policy.lockout_duration <= now);
    if user.locked_until.is_some_and(|until| until <= now) || stale {
        user.failed_attempts = 0;
    }
    user.failed_attempts = user.failed_attempts.saturating_add(1);
    user.last_failed_attempt = Some(now);

    let mut locks = client_locks(user);
    let foreign = foreign_lock(user, &locks, now);
    // Expired locks start a fresh count: otherwise one mistake after a lock
    // ends would lock again at once.
    locks.retain(|l| l.locked_until.is_none_or(|until| now < until) || l.client == client.as_str());
    match locks.iter_mut().find(|l| l.client == client.as_str()) {
        Some(entry) => {
            if entry.locked_until.is_some_and(|until| until <= now) {
                entry.locked_until = None;
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
        }
        None => locks.push(ClientLock {
            client: client.as_str().to_string(),
            failures: 1,
            last_failure: now,
            locked_until: None,
        }),
    }
    for entry in &mut locks {
        if entry.client == client.as_str()
            && entry.locked_until.is_none()
            && entry.failures >= policy.max_failed_attempts
        {
            entry.locked_until = Some(now + policy.lockout_duration);
        }
    }
    evict(&mut locks, client, now);
    if !foreign {
        user.locked_until = locks
            .iter()
            .filter(|l| l.is_locked(now))
            .filter_map(|l| l.locked_until)
            .max();
    }
    set_client_locks(user, locks);
}

/// Keeps at most [`MAX_CLIENTS_TRACKED`] entries: unlocked ones go first,
/// oldest failure first; `client`'s own entry stays.
fn evict(locks: &mut Vec<ClientLock>, client: &ClientKey, now: DateTime<Utc>) {
    while locks.len() > MAX_CLIENTS_TRACKED {
        let victim = locks
            .iter()
            .enumerate()
            .filter(|(_, l)| l.client != client.as_str())
            .min_by_key(|(_, l)| (l.is_locked(now), l.last_failure))
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                locks.remove(i);
            }
            None => break,
        }
    }
}

/// A successful check by `client`: its own count and the account counter
/// start afresh. Other clients' locks stay: the owner logging in does not
/// let an attacker's address guess again.
pub fn record_success(user: &mut User, client: &ClientKey, now: DateTime<Utc>) {
    user.failed_attempts = 0;
    let mut locks = client_locks(user);
    locks.retain(|l| l.client != client.as_str() && l.is_locked(now));
    user.locked_until = locks.iter().filter_map(|l| l.locked_until).max();
    set_client_locks(user, locks);
}

/// Lifts every lock of the account (an admin's or operator's unlock).
pub fn clear(user: &mut User) {
    user.failed_attempts = 0;
    user.locked_until = None;
    user.extra.remove(CLIENT_LOCKS_KEY);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Role, Username};
    use chrono::Duration;

    fn user() -> User {
        User::new(
            Username::parse("ann").unwrap(),
            "Ann",
            String::new(),
            [Role::Reader],
            Utc::now(),
        )
    }

    fn key(ip: &str) -> ClientKey {
        ClientKey::of(Some(ip.parse().unwrap()))
    }

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failed_attempts: 3,
        lockout_duration: Duration::seconds(900),
    };

    #[test]
    fn a_client_locks_only_itself_out() {
        let (mut u, now) = (user(), Utc::now());
        let (attacker, owner) = (key("198.51.100.7"), key("203.0.113.9"));
        for i in 1..=3 {
            assert!(!is_locked_for(&u, &attacker, now), "locked after {}", i - 1);
            record_failure(&mut u, &attacker, now, POLICY);
        }
        assert!(is_locked_for(&u, &attacker, now));
        assert!(!is_locked_for(&u, &owner, now));
        assert_eq!(locked_until(&u, now), Some(now + POLICY.lockout_duration));
        assert!(under_attack(&u, POLICY, now));
        record_success(&mut u, &owner, now);
        assert!(
            is_locked_for(&u, &attacker, now),
            "the owner's login lifted the attacker's lock"
        );
        assert!(!is_locked_for(&u, &attacker, now + POLICY.lockout_duration));
        clear(&mut u);
        assert!(!is_locked_for(&u, &attacker, now));
    }

    #[test]
    fn ipv6_clients_count_per_64_and_addresses_are_not_stored() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:198.51.100.1"), key("198.51.100.1"));
        let mut u = user();
        record_failure(&mut u, &key("198.51.100.1"), Utc::now(), POLICY);
        let text = serde_json::to_string(&u.extra).unwrap();
        assert!(!text.contains("198.51"), "{text}");
    }

    #[test]
    fn a_lock_set_by_another_tool_holds_for_everyone() {
        let (mut u, now) = (user(), Utc::now());
        u.locked_until = Some(now + Duration::seconds(60));
        assert!(is_locked_for(&u, &key("198.51.100.1"), now));
        record_failure(&mut u, &key("198.51.100.1"), now, POLICY);
        assert_eq!(u.locked_until, Some(now + Duration::seconds(60)));
    }

    #[test]
    fn many_addresses_cannot_evict_a_lock() {
        let (mut u, now) = (user(), Utc::now());
        let victim = key("198.51.100.1");
        for _ in 0..3 {
            record_failure(&mut u, &victim, now, POLICY);
        }
        for i in 0..200u32 {
            let ip = format!("10.0.{}.{}", i / 250, i % 250);
            record_failure(&mut u, &key(&ip), now, POLICY);
        }
        assert!(client_locks(&u).len() <= MAX_CLIENTS_TRACKED);
        assert!(is_locked_for(&u, &victim, now));
    }
}

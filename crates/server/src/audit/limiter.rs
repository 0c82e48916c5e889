//! Refusals are the audit events anyone can cause at will, without an
//! account: failed logins, denied permissions, lockouts. Each client gets a
//! token bucket, and all clients together another, so a flood adds a
//! bounded number of lines per hour whatever its source. What is held back
//! is counted and written as one `suppressed` line per client when its
//! window reopens (before its next line, or by a sweep once it is quiet),
//! when the file rotates, and at exit. Every other event is always written.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::mem;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// Refusals besides the names ending in one of [`REFUSAL_SUFFIXES`].
const REFUSALS: [&str; 4] = ["lockout", "rate_limited", "invalid_token", "token_refused"];
const REFUSAL_SUFFIXES: [&str; 3] = ["_failed", "_denied", "_refused"];
/// Fields naming the client, looked for in this order. An event without
/// one is counted per event name and `user`.
const CLIENT_FIELDS: [&str; 4] = ["client", "client_ip", "ip", "addr"];
/// Clients tracked at most; beyond it the least recently seen tenth is
/// forgotten (what they had held back goes to the `others` line).
pub const MAX_CLIENTS: usize = 10_000;
/// All clients together may burst this many times one client's burst.
pub const TOTAL_BURST_FACTOR: u32 = 10;
/// Per-client summary lines written at once; the rest share one line.
pub const SUMMARY_LINES: usize = 10;
/// Event names counted apart in one summary; further ones count as `other`.
const MAX_EVENT_NAMES: usize = 16;
/// How often the counts of clients gone quiet are written.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

type Fields = Map<String, Value>;

/// How many refusals are written; see docs/security.md, 'Audit log'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalLimits {
    /// Refusals of one client written in a row...
    pub burst: u32,
    /// ...and then per hour.
    pub per_hour: u32,
    /// Refusals of all clients together per hour, after a burst of
    /// [`TOTAL_BURST_FACTOR`] times `burst`.
    pub total_per_hour: u32,
}

impl Default for RefusalLimits {
    fn default() -> Self {
        RefusalLimits {
            burst: 20,
            per_hour: 60,
            total_per_hour: 720,
        }
    }
}

impl RefusalLimits {
    fn total_burst(&self) -> u32 {
        self.burst.saturating_mul(TOTAL_BURST_FACTOR)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// The client's address (or its key), when the event names it.
    Client(String),
    /// Otherwise the event and the account it names.
    Actor { event: String, user: Option<String> },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(capacity),
            at: now,
        }
    }

    fn refill(&mut self, capacity: u32, per_hour: u32, now: Instant) {
        if now > self.at {
            let hours = now.duration_since(self.at).as_secs_f64() / 3600.0;
            self.tokens = (self.tokens + hours * f64::from(per_hour)).min(f64::from(capacity));
            self.at = now;
        }
    }

    fn has_token(&self) -> bool {
        self.tokens >= 1.0
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

/// Events held back, by name, since the first one's `ts`.
#[derive(Debug, Default)]
struct Held {
    count: u64,
    events: BTreeMap<String, u64>,
    since: Option<Value>,
}

impl Held {
    fn add(&mut self, event: &str, times: u64, since: Option<&Value>) {
        self.count += times;
        let name = if self.events.len() < MAX_EVENT_NAMES || self.events.contains_key(event) {
            event
        } else {
            "other"
        };
        *self.events.entry(name.to_owned()).or_default() += times;
        let earlier = |s: &Value| match &self.since {
            Some(Value::String(mine)) => s.as_str().is_some_and(|s| s < mine.as_str()),
            _ => true,
        };
        if let Some(since) = since.filter(|s| earlier(s)) {
            self.since = Some(since.clone());
        }
    }

    fn merge(&mut self, other: Held) {
        for (name, times) in &other.events {
            self.add(name, *times, other.since.as_ref());
        }
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[derive(Debug)]
struct Client {
    bucket: Bucket,
    held: Held,
    seen: Instant,
}

/// The per-client and total buckets, and what they held back.
#[derive(Debug)]
pub struct Limiter {
    limits: RefusalLimits,
    clients: HashMap<Key, Client>,
    total: Bucket,
    /// What forgotten clients had held back, and how many they were.
    others: Held,
    others_clients: u64,
    last_sweep: Instant,
}

impl Limiter {
    pub fn new(limits: RefusalLimits, now: Instant) -> Limiter {
        Limiter {
            limits,
            clients: HashMap::new(),
            total: Bucket::full(limits.total_burst(), now),
            others: Held::default(),
            others_clients: 0,
            last_sweep: now,
        }
    }

    /// The lines to write for `event` at `now`: summaries that are due,
    /// then the event itself unless it is a refusal held back.
    pub fn admit(&mut self, event: Fields, now: Instant) -> Vec<Fields> {
        let mut lines = Vec::new();
        let limits = self.limits;
        self.total
            .refill(limits.total_burst(), limits.total_per_hour, now);
        if now.saturating_duration_since(self.last_sweep) >= SWEEP_EVERY {
            self.last_sweep = now;
            let ts = event.get("ts").cloned().unwrap_or(Value::Null);
            self.sweep(&ts, now, &mut lines);
        }
        match refusal_name(&event) {
            Some(name) => self.admit_refusal(&name, event, now, &mut lines),
            None => lines.push(event),
        }
        lines
    }

    fn admit_refusal(&mut self, name: &str, event: Fields, now: Instant, lines: &mut Vec<Fields>) {
        let key = key_of(&event, name);
        let ts = event.get("ts").cloned();
        self.make_room(&key);
        let limits = self.limits;
        let client = self.clients.entry(key.clone()).or_insert_with(|| Client {
            bucket: Bucket::full(limits.burst, now),
            held: Held::default(),
            seen: now,
        });
        client.seen = now;
        client.bucket.refill(limits.burst, limits.per_hour, now);
        let total = &mut self.total;
        // A summary costs a line of the budgets like the events it counts.
        if !client.held.is_empty() && client.bucket.has_token() && total.has_token() {
            client.bucket.take();
            total.take();
            let held = mem::take(&mut client.held);
            lines.push(summary(Some(&key), held, ts.as_ref()));
        }
        if client.bucket.has_token() && total.has_token() {
            client.bucket.take();
            total.take();
            lines.push(event);
        } else {
            client.held.add(name, 1, ts.as_ref());
        }
    }

    /// Summaries of the clients whose window reopened while they were quiet.
    fn sweep(&mut self, ts: &Value, now: Instant, lines: &mut Vec<Fields>) {
        let limits = self.limits;
        let mut quiet: Vec<(&Key, &mut Client)> = self
            .clients
            .iter_mut()
            .filter_map(|(key, client)| {
                client.bucket.refill(limits.burst, limits.per_hour, now);
                (client.bucket.has_token() && !client.held.is_empty()).then_some((key, client))
            })
            .collect();
        quiet.sort_by_key(|(_, client)| Reverse(client.held.count));
        for (key, client) in quiet.into_iter().take(SUMMARY_LINES) {
            if !self.total.has_token() {
                break;
            }
            self.total.take();
            client.bucket.take();
            lines.push(summary(Some(key), mem::take(&mut client.held), Some(ts)));
        }
    }

    /// Everything held back, in at most [`SUMMARY_LINES`] + 1 lines: one
    /// per client for those that held back most, one for all the others.
    /// For rotation and exit, so it spends no budget.
    pub fn drain(&mut self, ts: &Value) -> Vec<Fields> {
        let mut held: Vec<(&Key, Held)> = self
            .clients
            .iter_mut()
            .filter(|(_, client)| !client.held.is_empty())
            .map(|(key, client)| (key, mem::take(&mut client.held)))
            .collect();
        held.sort_by_key(|(_, held)| Reverse(held.count));
        let rest = held.split_off(held.len().min(SUMMARY_LINES));
        let mut lines: Vec<Fields> = held
            .into_iter()
            .map(|(key, held)| summary(Some(key), held, Some(ts)))
            .collect();
        for (_, held) in rest {
            self.others.merge(held);
            self.others_clients += 1;
        }
        if !self.others.is_empty() {
            let mut line = summary(None, mem::take(&mut self.others), Some(ts));
            line.insert(
                "others".into(),
                Value::from(mem::take(&mut self.others_clients)),
            );
            lines.push(line);
        }
        lines
    }

    /// Keeps the map under [`MAX_CLIENTS`] by forgetting the least
    /// recently seen tenth at once (so each insertion costs O(log n)).
    fn make_room(&mut self, key: &Key) {
        if self.clients.len() < MAX_CLIENTS || self.clients.contains_key(key) {
            return;
        }
        let mut by_age: Vec<(Instant, Key)> = self
            .clients
            .iter()
            .map(|(key, client)| (client.seen, key.clone()))
            .collect();
        let evict = (MAX_CLIENTS / 10).clamp(1, by_age.len());
        by_age.select_nth_unstable_by_key(evict - 1, |(seen, _)| *seen);
        for (_, key) in by_age.into_iter().take(evict) {
            let Some(client) = self.clients.remove(&key) else {
                continue;
            };
            if !client.held.is_empty() {
                self.others.merge(client.held);
                self.others_clients += 1;
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.len()
    }
}

fn refusal_name(event: &Fields) -> Option<String> {
    let name = event.get("event")?.as_str()?;
    let refusal =
        REFUSALS.contains(&name) || REFUSAL_SUFFIXES.iter().any(|suffix| name.ends_with(suffix));
    refusal.then(|| name.to_owned())
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn key_of(event: &Fields, name: &str) -> Key {
    match CLIENT_FIELDS.iter().find_map(|field| event.get(*field)) {
        Some(client) => Key::Client(text_of(client)),
        None => Key::Actor {
            event: name.to_owned(),
            user: event.get("user").map(text_of),
        },
    }
}

/// `{"event":"suppressed","client":...,"count":N,"events":{"login_failed":N},"since":...}`.
fn summary(key: Option<&Key>, held: Held, ts: Option<&Value>) -> Fields {
    let mut line = Fields::new();
    line.insert("ts".into(), ts.cloned().unwrap_or(Value::Null));
    line.insert("level".into(), Value::from("WARN"));
    line.insert("event".into(), Value::from("suppressed"));
    match key {
        Some(Key::Client(client)) => {
            line.insert("client".into(), Value::from(client.as_str()));
        }
        Some(Key::Actor {
            user: Some(user), ..
        }) => {
            line.insert("user".into(), Value::from(user.as_str()));
        }
        _ => {}
    }
    line.insert("count".into(), Value::from(held.count));
    let events = held.events.into_iter().map(|(k, v)| (k, Value::from(v)));
    line.insert("events".into(), Value::Object(events.collect()));
    if let Some(since) = held.since {
        line.insert("since".into(), since);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, user: &str, client: Option<&str>) -> Fields {
        let mut fields = Fields::new();
        fields.insert("ts".into(), json!("2026-01-01T00:00:00.000000Z"));
        fields.insert("event".into(), json!(name));
        fields.insert("user".into(), json!(user));
        if let Some(client) = client {
            fields.insert("client".into(), json!(client));
        }
        fields
    }

    fn names(lines: &[Fields]) -> Vec<&str> {
        lines.iter().map(|l| l["event"].as_str().unwrap()).collect()
    }

    const LIMITS: RefusalLimits = RefusalLimits {
        burst: 20,
        per_hour: 3600,
        total_per_hour: 36_000,
    };

    #[test]
    fn repeated_refusals_are_held_back_and_summarised_when_the_window_reopens() {
        let t0 = Instant::now();
        let mut limiter = Limiter::new(LIMITS, t0);
        let written: usize = (0..100)
            .map(|_| limiter.admit(event("login_failed", "eve", None), t0).len())
            .sum();
        assert_eq!(written, 20);
        // One token a second: the summary takes the first, the event the next.
        let later = t0 + Duration::from_millis(1500);
        let lines = limiter.admit(event("login_failed", "eve", None), later);
        assert_eq!(names(&lines), ["suppressed"]);
        assert_eq!(lines[0]["user"], "eve");
        assert_eq!(lines[0]["count"], 80);
        assert_eq!(lines[0]["events"], json!({"login_failed": 80}));
        assert_eq!(lines[0]["since"], "2026-01-01T00:00:00.000000Z");
        let lines = limiter.admit(
            event("login_failed", "eve", None),
            later + Duration::from_secs(2),
        );
        assert_eq!(names(&lines), ["suppressed", "login_failed"]);
        assert_eq!(lines[0]["count"], 1);
    }

    #[test]
    fn clients_are_limited_independently_and_successes_never() {
        let t0 = Instant::now();
        let mut limiter = Limiter::new(LIMITS, t0);
        for _ in 0..500 {
            limiter.admit(event("login_failed", "x", Some("attacker")), t0);
        }
        let other = limiter.admit(event("login_failed", "alice", Some("office")), t0);
        assert_eq!(names(&other), ["login_failed"]);
        // The same client is limited across events and usernames.
        let again = limiter.admit(event("permission_denied", "y", Some("attacker")), t0);
        assert!(again.is_empty());
        for name in ["login_ok", "role_change", "user_deleted", "register"] {
            let lines = limiter.admit(event(name, "x", Some("attacker")), t0);
            assert_eq!(names(&lines), [name]);
        }
        let lines = limiter.drain(&json!("now"));
        assert_eq!(names(&lines), ["suppressed"]);
        assert_eq!(lines[0]["client"], "attacker");
        assert_eq!(
            lines[0]["events"],
            json!({"login_failed": 480, "permission_denied": 1})
        );
        assert!(limiter.drain(&json!("now")).is_empty());
    }

    #[test]
    fn all_clients_together_are_bounded_by_the_total_budget() {
        let t0 = Instant::now();
        let limits = RefusalLimits::default();
        let mut limiter = Limiter::new(limits, t0);
        let mut written = 0;
        // A flood of fresh usernames: each is a new client, so only the
        // total budget holds, over two simulated hours.
        for i in 0..50_000u64 {
            let now = t0 + Duration::from_millis(i * 144);
            written += limiter
                .admit(event("login_failed", &format!("u{i}"), None), now)
                .len();
        }
        let bound = limits.total_burst() as usize + 2 * limits.total_per_hour as usize;
        assert!(written <= bound, "{written} > {bound}");
        assert!(written >= bound - 30, "{written}");
    }

    #[test]
    fn the_client_map_is_bounded_and_forgotten_counts_survive() {
        let t0 = Instant::now();
        let mut limiter = Limiter::new(
            RefusalLimits {
                burst: 1,
                per_hour: 1,
                total_per_hour: 1,
            },
            t0,
        );
        for i in 0..3 * MAX_CLIENTS {
            limiter.admit(event("login_failed", &format!("u{i}"), None), t0);
            assert!(limiter.tracked() <= MAX_CLIENTS);
        }
        let lines = limiter.drain(&json!("now"));
        assert_eq!(lines.len(), SUMMARY_LINES + 1);
        let counted: u64 = lines.iter().map(|l| l["count"].as_u64().unwrap()).sum();
        // The total burst (10) was written, everything else is counted.
        assert_eq!(counted, 3 * MAX_CLIENTS as u64 - 10);
        let others = lines.last().unwrap();
        assert!(others["others"].as_u64().unwrap() > 2 * MAX_CLIENTS as u64 - 100);
    }

    #[test]
    fn quiet_clients_are_summarised_by_the_sweep() {
        let t0 = Instant::now();
        let mut limiter = Limiter::new(LIMITS, t0);
        for _ in 0..30 {
            limiter.admit(event("lockout", "bob", Some("c1")), t0);
        }
        let later = t0 + SWEEP_EVERY;
        let lines = limiter.admit(event("login_ok", "alice", None), later);
        assert_eq!(names(&lines), ["suppressed", "login_ok"]);
        assert_eq!(lines[0]["client"], "c1");
        assert_eq!(lines[0]["count"], 10);
    }
}

//! One connection per instance that `LISTEN`s on the schema's channel, and
//! the thread that applies what it hears.
//!
//! A heartbeat detects a broken connection at once and a silent network
//! partition within about four seconds (three slow answers in a row: load
//! alone must not look like a partition); the session index then refuses
//! tokens until the listener is back and everything has been reloaded, so
//! a revocation elsewhere is never missed for longer than that.
//!
//! A lost connection is tried again with backoff (0.2 s doubling to 10 s,
//! with jitter): quick after a blip, and gentle on a server that is down
//! or restarting, which every instance would otherwise hit in step. The
//! log says once that the connection is lost and once that it is back,
//! with how long it was out. `plantdb_auth_postgres_connected` (1 or 0)
//! follows it in `/metrics`; it is set at every heartbeat, so it is right
//! whenever the metrics recorder was installed.

use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Weak;
use std::time::{Duration, Instant};

use plantdb_auth_core::model::{Group, User};
use plantdb_auth_core::store::StoreError;
use tokio_postgres::AsyncMessage;

use crate::connect::{Backoff, Target};
use crate::notify::Message;
use crate::sessions::PgSessionStore;
use crate::table::Table;

const HEARTBEAT: Duration = Duration::from_millis(250);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Slow answers tolerated in a row before the connection counts as lost:
/// a saturated CPU delays a `SELECT 1` without anything being missed, and
/// refusing every token then would turn load into an outage.
const SLOW_BEATS: u32 = 3;
const RETRY: Duration = Duration::from_millis(200);
const RETRY_CAP: Duration = Duration::from_secs(10);

/// The gauge in `/metrics`: 1 while the listener connection is up.
pub const CONNECTED_GAUGE: &str = "plantdb_auth_postgres_connected";

fn connected(up: bool) {
    metrics::gauge!(CONNECTED_GAUGE).set(if up { 1.0 } else { 0.0 });
}

/// One outage: logged when it starts and when it ends, not per attempt.
struct Outage {
    since: Option<Instant>,
    backoff: Backoff,
}

impl Outage {
    /// Returns whether this loss starts an outage.
    fn lost(&mut self, error: &str) -> bool {
        connected(false);
        if self.since.is_some() {
            tracing::debug!(error, "PostgreSQL listener: still cannot reconnect");
            return false;
        }
        tracing::warn!(
            error,
            "PostgreSQL connection lost: refusing tokens until it is back; reconnecting with backoff"
        );
        self.since = Some(Instant::now());
        true
    }

    fn back(&mut self) {
        connected(true);
        self.backoff.reset();
        if let Some(since) = self.since.take() {
            tracing::info!(
                outage_ms = since.elapsed().as_millis() as u64,
                "PostgreSQL connection back: reloading shared state"
            );
        }
    }
}

pub(crate) enum Event {
    Notify(String),
    /// Listening again after an interruption: changes may have been missed.
    Reconnected,
    Lost,
}

/// Keeps a listening connection up until the runtime stops. `ready` gets
/// the outcome of the first attempt.
pub(crate) async fn run(
    target: Target,
    channel: String,
    events: Sender<Event>,
    ready: SyncSender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    let mut outage = Outage {
        since: None,
        backoff: Backoff::new(RETRY, RETRY_CAP),
    };
    loop {
        let outcome = listen(&target, &channel, &events, &mut ready, &mut outage).await;
        if let Some(first) = ready.take() {
            let _ = first.send(
                outcome.map_err(|e| StoreError::Backend(format!("PostgreSQL listener: {e}"))),
            );
            return;
        }
        let error = outcome.err().unwrap_or_default();
        if outage.lost(&error) && events.send(Event::Lost).is_err() {
            return;
        }
        tokio::time::sleep(outage.backoff.pause()).await;
    }
}

async fn listen(
    target: &Target,
    channel: &str,
    events: &Sender<Event>,
    ready: &mut Option<SyncSender<Result<(), StoreError>>>,
    outage: &mut Outage,
) -> Result<(), String> {
    let mut config = target.config.clone();
    // Named after the channel, so an operator (or a test) can find it.
    config.application_name(format!("plantdb-auth listener {channel}"));
    let (client, mut connection) = config
        .connect(target.tls.clone())
        .await
        .map_err(|e| crate::describe(&e))?;
    let forward = events.clone();
    let pump = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if forward
                        .send(Event::Notify(n.payload().to_string()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let quoted = channel.replace('"', "\"\"");
    let listening = client.batch_execute(&format!("LISTEN \"{quoted}\"")).await;
    if let Err(e) = listening {
        pump.abort();
        return Err(e.to_string());
    }
    match ready.take() {
        Some(first) => {
            connected(true);
            let _ = first.send(Ok(()));
        }
        None => {
            outage.back();
            events.send(Event::Reconnected).map_err(|e| e.to_string())?;
        }
    }
    let mut slow = 0;
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let beat = tokio::time::timeout(HEARTBEAT_TIMEOUT, client.simple_query("SELECT 1")).await;
        slow = match beat {
            Ok(Ok(_)) => {
                connected(true);
                0
            }
            Err(_) => slow + 1,
            // An error is a broken connection: lost at once.
            Ok(Err(_)) => SLOW_BEATS,
        };
        if slow >= SLOW_BEATS || pump.is_finished() {
            pump.abort();
            return Err("heartbeat failed".into());
        }
    }
}

/// Where the dispatcher delivers: weak links, so it ends with the stores.
pub(crate) struct Targets {
    pub(crate) users: Weak<Table<User>>,
    pub(crate) groups: Weak<Table<Group>>,
    pub(crate) sessions: Weak<PgSessionStore>,
    /// The server's reaction to a key rotation (set once it has a session
    /// manager to give the new key to).
    pub(crate) key_hook: std::sync::Arc<crate::KeyHook>,
}

impl Targets {
    fn key_changed(&self) {
        if let Some(hook) = self.key_hook.lock().as_ref() {
            hook();
        }
    }
}

/// Runs on its own thread (it blocks on the session index's write lock and
/// on database reads, which must not happen on a runtime worker).
pub(crate) fn dispatch(events: Receiver<Event>, targets: Targets) {
    while let Ok(event) = events.recv() {
        let (Some(users), Some(groups), Some(sessions)) = (
            targets.users.upgrade(),
            targets.groups.upgrade(),
            targets.sessions.upgrade(),
        ) else {
            return;
        };
        let outcome = match event {
            Event::Notify(payload) => match serde_json::from_str::<Message>(&payload) {
                Ok(Message::User { k, v }) => users.on_notify(&k, v),
                Ok(Message::Group { k, v }) => groups.on_notify(&k, v),
                Ok(Message::Sessions { c }) => {
                    sessions.on_batch(c);
                    Ok(())
                }
                Ok(Message::Key) => {
                    targets.key_changed();
                    Ok(())
                }
                Err(e) => Err(StoreError::Backend(format!("unreadable notification: {e}"))),
            },
            Event::Reconnected => {
                // Until this succeeds the session index refuses tokens:
                // keep trying rather than wait for another reconnection.
                let reload = || {
                    users.reload(true)?;
                    groups.reload(true)?;
                    sessions.on_reconnect()
                };
                while let Err(e) = reload() {
                    tracing::error!(error = %e, "reloading shared state failed; retrying");
                    std::thread::sleep(RETRY);
                }
                // A rotation may have happened while disconnected.
                targets.key_changed();
                Ok(())
            }
            Event::Lost => {
                sessions.on_lost();
                Ok(())
            }
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "applying a change from another instance failed");
        }
    }
}

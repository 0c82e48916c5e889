//! One connection per instance that `LISTEN`s on the schema's channel, and
//! the thread that applies what it hears.
//!
//! A heartbeat detects a broken connection at once and a silent network
//! partition within about four seconds (three slow answers in a row: load
//! alone must not look like a partition); the session index then refuses
//! tokens until the listener is back and everything has been reloaded, so
//! a revocation elsewhere is never missed for longer than that.

use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Weak;
use std::time::Duration;

use plantdb_auth_core::model::{Group, User};
use plantdb_auth_core::store::StoreError;
use tokio_postgres::{AsyncMessage, Config, NoTls};

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

pub(crate) enum Event {
    Notify(String),
    /// Listening again after an interruption: changes may have been missed.
    Reconnected,
    Lost,
}

/// Keeps a listening connection up until the runtime stops. `ready` gets
/// the outcome of the first attempt.
pub(crate) async fn run(
    config: Config,
    channel: String,
    events: Sender<Event>,
    ready: SyncSender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    loop {
        let outcome = listen(&config, &channel, &events, &mut ready).await;
        if let Some(first) = ready.take() {
            let _ = first.send(
                outcome.map_err(|e| StoreError::Backend(format!("PostgreSQL listener: {e}"))),
            );
            return;
        }
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "PostgreSQL listener connection lost; reconnecting");
        }
        if events.send(Event::Lost).is_err() {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn listen(
    config: &Config,
    channel: &str,
    events: &Sender<Event>,
    ready: &mut Option<SyncSender<Result<(), StoreError>>>,
) -> Result<(), String> {
    let mut config = config.clone();
    // Named after the channel, so an operator (or a test) can find it.
    config.application_name(format!("plantdb-auth listener {channel}"));
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
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
            let _ = first.send(Ok(()));
        }
        None => {
            tracing::info!("PostgreSQL listener reconnected: reloading shared state");
            events.send(Event::Reconnected).map_err(|e| e.to_string())?;
        }
    }
    let mut slow = 0;
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let beat = tokio::time::timeout(HEARTBEAT_TIMEOUT, client.simple_query("SELECT 1")).await;
        slow = match beat {
            Ok(Ok(_)) => 0,
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

//! Password hashing over HTTP: the pool of `--hash-workers` threads of its
//! own (default: one per core) that run every use-case computing Argon2
//! (login, register, password changes), never on the async workers; and the
//! equal-cost pacing of logins ([`paced_login`]: an account under attack
//! waits for its turn, every failure takes as long as the slowest real
//! check), calibrated at start ([`calibrate`]). The costs themselves are
//! measured by the hasher (`plantdb_auth_core::password`), the policies are
//! the service's (`login_wait`, `failed_login_duration`).
//!
//! Why threads of its own: at most `workers` hashes (and their working
//! memory) exist at once, whatever happens to the requests (with the
//! blocking pool and a semaphore, a request dropped mid-hash freed its slot
//! while the hash went on); and a request dropped while its job waits (the
//! client went away) costs no hash at all.
//!
//! The threads run at the async workers' priority. Running them at a lower
//! one (nice 10) was tried: it made validation faster during a login storm
//! but, with other processes busy, a preempted hashing thread holding or
//! awaiting a write lock of the session index or the user store stalled
//! every validation behind it (priority inversion: p99 180 ms in one run).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use std::net::IpAddr;
use std::time::Instant;

use parking_lot::Mutex;
use plantdb_auth_service::{self as service, AuthError, LoginResult};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::state::AppState;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, Default)]
struct Counters {
    waiting: AtomicUsize,
    running: AtomicUsize,
}

/// A fixed set of hashing threads fed through a queue.
#[derive(Debug)]
pub struct HashPool {
    queue: Mutex<Sender<Job>>,
    counters: Arc<Counters>,
    workers: usize,
}

impl HashPool {
    /// Starts `workers` threads (at least one). Threads end when the pool is
    /// dropped and the queue is empty.
    pub fn new(workers: usize) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let counters = Arc::new(Counters::default());
        for i in 0..workers {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(HashPool {
            queue: Mutex::new(sender),
            counters,
            workers,
        })
    }

    /// Runs `job` on a hashing thread, inside the caller's tracing span.
    /// If the returned future is dropped before a thread takes the job, the
    /// job is skipped. `None` if the pool has stopped.
    pub async fn run<T, F>(&self, job: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let span = tracing::Span::current();
        let counters = Arc::clone(&self.counters);
        let task: Job = Box::new(move || {
            counters.waiting.fetch_sub(1, Ordering::Relaxed);
            if reply.is_closed() {
                return;
            }
            counters.running.fetch_add(1, Ordering::Relaxed);
            let result = span.in_scope(job);
            counters.running.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(result);
        });
        self.counters.waiting.fetch_add(1, Ordering::Relaxed);
        if self.queue.lock().send(task).is_err() {
            self.counters.waiting.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        answer.await.ok()
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs queued, not yet taken by a thread.
    pub fn waiting(&self) -> usize {
        self.counters.waiting.load(Ordering::Relaxed)
    }

    /// Jobs being computed now.
    pub fn running(&self) -> usize {
        self.counters.running.load(Ordering::Relaxed)
    }
}

/// A login, paced: an account under attack gets one password check per
/// `ThrottlePolicy::slowdown` (waited for here, holding no thread); the
/// check runs on the hashing pool; a failure is answered no sooner than
/// the slowest real check would take, so that unknown accounts, wrong
/// passwords and locked accounts cannot be told apart by timing.
pub async fn paced_login(
    state: &AppState,
    username: String,
    password: String,
    client: IpAddr,
) -> Result<LoginResult, ApiError> {
    let name = username.clone();
    let wait = state
        .blocking(move |db| service::login_wait(db, &name, Some(client)))
        .await??;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let (outcome, started) = state
        .hashing(move |db| {
            let started = Instant::now();
            (
                service::authenticate_user_from(db, &username, &password, Some(client)),
                started,
            )
        })
        .await?;
    if matches!(
        outcome,
        Err(AuthError::InvalidCredentials | AuthError::Busy(_))
    ) {
        let floor = service::failed_login_duration(&state.db);
        tokio::time::sleep_until((started + floor).into()).await;
    }
    Ok(outcome?)
}

/// Measures the Argon2 cost of every parameter set among the stored hashes
/// (a database written by the Python server holds slower ones), on the
/// hashing pool: the floor of [`paced_login`]'s failures. Run once at start,
/// in the background (a few hundred milliseconds).
pub async fn calibrate(state: &AppState) {
    let outcome = state.hashing(service::calibrate_login_pacing).await;
    if let Ok(Err(e)) = outcome {
        tracing::warn!(error = %e, "cannot calibrate failed-login pacing");
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job.
        let next = receiver.lock().recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_jobs_on_its_own_threads() {
        let pool = HashPool::new(2).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("argon2-"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_workers_jobs_run_at_once_and_dropped_requests_are_skipped() {
        let pool = Arc::new(HashPool::new(1).unwrap());
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move || {
                    started_tx.send(()).unwrap();
                    gate.recv().unwrap();
                })
                .await
            })
        };
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(pool.running(), 1);
        let ran = Arc::new(AtomicUsize::new(0));
        let flag = Arc::clone(&ran);
        let queued = pool.run(move || flag.fetch_add(1, Ordering::SeqCst));
        // Polled once (queued), then dropped: the client went away.
        assert!(tokio::time::timeout(Duration::from_millis(50), queued)
            .await
            .is_err());
        assert_eq!(pool.waiting(), 1);
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert_eq!(pool.run(|| 7).await, Some(7));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "the abandoned job was skipped"
        );
        assert_eq!(pool.waiting(), 0);
    }
}

//! Where one connection stands, as seen by its socket, its service and its
//! bodies (all polled by the connection's task), and the deadline that
//! follows from it.

use std::task::Waker;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// The timeouts that depend on where a connection stands.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the connection's opening (first request) or from the first byte
    /// of a later request, until its head is complete.
    pub header: Duration,
    /// Waiting for the next request on a kept-alive connection, or for the
    /// client to take more of a response.
    pub idle: Duration,
}

/// Why the connection's task closed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Header,
    Idle,
    SendStalled,
}

/// Asked of a connection from outside its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseRequest {
    /// Another connection needs its slot.
    Evict,
    /// The server is stopping.
    Shutdown,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request in progress: waiting for (the rest of) a request head.
    Between {
        since: Instant,
        first_byte: Option<Instant>,
    },
    /// The service was called; `answered` once its response body is done.
    Busy { answered: bool },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// A request was answered: later heads get `idle` for their first byte.
    served: bool,
    write_blocked_since: Option<Instant>,
    body_too_slow: bool,
    close: Option<CloseRequest>,
    waker: Option<Waker>,
}

#[derive(Debug)]
pub struct ConnState {
    timeouts: Timeouts,
    inner: Mutex<Inner>,
}

impl ConnState {
    /// A connection just accepted: its head is due within `header`.
    pub fn new(timeouts: Timeouts) -> ConnState {
        ConnState {
            timeouts,
            inner: Mutex::new(Inner {
                phase: Phase::Between {
                    since: Instant::now(),
                    first_byte: None,
                },
                served: false,
                write_blocked_since: None,
                body_too_slow: false,
                close: None,
                waker: None,
            }),
        }
    }

    /// Bytes came from the client.
    pub fn on_bytes_read(&self) {
        let mut s = self.inner.lock();
        if let Phase::Between {
            first_byte: first @ None,
            ..
        } = &mut s.phase
        {
            *first = Some(Instant::now());
        }
    }

    /// A request head was parsed and handed to the service.
    pub fn on_request(&self) {
        let mut s = self.inner.lock();
        s.phase = Phase::Busy { answered: false };
        s.body_too_slow = false;
    }

    /// The response body is done (or dropped): hyper holds its last bytes.
    pub fn on_response_end(&self) {
        let mut s = self.inner.lock();
        if let Phase::Busy { answered } = &mut s.phase {
            *answered = true;
        }
    }

    /// Everything hyper wrote so far reached the socket.
    pub fn on_flushed(&self) {
        let mut s = self.inner.lock();
        if let Phase::Busy { answered: true } = s.phase {
            s.phase = Phase::Between {
                since: Instant::now(),
                first_byte: None,
            };
            s.served = true;
        }
    }

    /// A write to the socket made progress, or could not.
    pub fn on_write(&self, blocked: bool) {
        let mut s = self.inner.lock();
        match (blocked, s.write_blocked_since) {
            (true, None) => s.write_blocked_since = Some(Instant::now()),
            (false, Some(_)) => s.write_blocked_since = None,
            _ => {}
        }
    }

    /// No request in progress and the last response wholly written: what
    /// hyper writes now is its own answer to a head it could not parse.
    pub fn between_requests(&self) -> bool {
        matches!(self.inner.lock().phase, Phase::Between { .. })
    }

    pub fn mark_body_too_slow(&self) {
        self.inner.lock().body_too_slow = true;
    }

    pub fn take_body_too_slow(&self) -> bool {
        std::mem::take(&mut self.inner.lock().body_too_slow)
    }

    /// When the connection must be closed if nothing changes, and why.
    pub fn deadline(&self) -> Option<(Instant, Expiry)> {
        let s = self.inner.lock();
        let Timeouts { header, idle } = self.timeouts;
        let waiting = match s.phase {
            Phase::Between { since, first_byte } => Some(match (s.served, first_byte) {
                (false, _) => (since + header, Expiry::Header),
                (true, Some(first)) => (first + header, Expiry::Header),
                (true, None) => (since + idle, Expiry::Idle),
            }),
            Phase::Busy { .. } => None,
        };
        let sending = s
            .write_blocked_since
            .map(|since| (since + idle, Expiry::SendStalled));
        waiting.into_iter().chain(sending).min_by_key(|(at, _)| *at)
    }

    /// Since when the connection has been between requests, if it may be
    /// evicted (not already asked to close).
    pub fn evictable_since(&self) -> Option<Instant> {
        let s = self.inner.lock();
        match (s.phase, s.close) {
            (Phase::Between { since, .. }, None) => Some(since),
            _ => None,
        }
    }

    /// Asks the connection's task to close it, and wakes the task.
    pub fn request_close(&self, why: CloseRequest) {
        let waker = {
            let mut s = self.inner.lock();
            if s.close.is_none() || why == CloseRequest::Shutdown {
                s.close = Some(why);
            }
            s.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub fn close_requested(&self) -> Option<CloseRequest> {
        self.inner.lock().close
    }

    /// The waker of the connection's task, for [`ConnState::request_close`].
    pub fn register(&self, waker: &Waker) {
        let mut s = self.inner.lock();
        match &mut s.waker {
            Some(known) if known.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    /// The expiry and roughly how far away it is (whole seconds).
    fn next(state: &ConnState) -> (u64, Expiry) {
        let (at, why) = state.deadline().unwrap();
        ((at - Instant::now()).as_secs_f64().round() as u64, why)
    }

    #[test]
    fn the_first_head_is_due_from_the_opening_later_ones_from_their_first_byte() {
        let state = ConnState::new(T);
        assert_eq!(next(&state), (10, Expiry::Header));
        state.on_request();
        assert!(state.deadline().is_none(), "a request in progress");
        state.on_response_end();
        assert!(!state.between_requests(), "not flushed yet");
        state.on_flushed();
        assert!(state.between_requests());
        assert_eq!(next(&state), (60, Expiry::Idle));
        state.on_bytes_read();
        assert_eq!(next(&state), (10, Expiry::Header));
    }

    #[test]
    fn a_blocked_write_is_bounded_by_the_idle_timeout() {
        let state = ConnState::new(T);
        state.on_request();
        state.on_write(true);
        assert_eq!(next(&state), (60, Expiry::SendStalled));
        state.on_write(false);
        assert!(state.deadline().is_none());
    }

    #[test]
    fn only_connections_between_requests_are_evictable() {
        let state = ConnState::new(T);
        assert!(state.evictable_since().is_some());
        state.on_request();
        assert!(state.evictable_since().is_none());
        let idle = ConnState::new(T);
        idle.request_close(CloseRequest::Evict);
        assert!(idle.evictable_since().is_none(), "already asked to close");
        idle.request_close(CloseRequest::Shutdown);
        assert_eq!(idle.close_requested(), Some(CloseRequest::Shutdown));
    }
}

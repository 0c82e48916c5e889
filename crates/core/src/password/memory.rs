//! Argon2's working memory (m_cost KiB per hash), reused while logins keep
//! coming and handed back to the operating system when they stop.
//!
//! Why: letting the argon2 crate allocate for every hash leaves glibc with
//! freed 19 MiB chunks scattered over its per-thread arenas (a freed block
//! of that size is kept, not unmapped), so the server's memory grew with
//! every blocking thread that ever hashed: ~280 MB after 10 parallel
//! logins, ~550 MB in a login storm. Here at most as many buffers exist as
//! hashes run at once (the HTTP layer bounds that to `--hash-workers`), a
//! buffer is reused warm (no page faults: a fresh one costs ~40% more
//! time), and buffers idle for [`IDLE_RELEASE`] are dropped. Each buffer
//! reserves at least [`SEPARATE_MAPPING`] bytes of address space so that
//! the allocator maps it on its own and dropping it really returns the
//! memory; only the blocks Argon2 touches (m_cost KiB) become resident.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use argon2::Block;
use parking_lot::Mutex;

/// Buffers unused for this long are released.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);
/// glibc maps every allocation at least this large (its largest dynamic
/// mmap threshold, 32 MiB) separately, and unmaps it when freed.
pub const SEPARATE_MAPPING: usize = 33 << 20;
/// Buffers smaller than this (test parameters) are not worth pooling.
const MIN_POOLED_BYTES: usize = 1 << 20;
/// Safety cap on idle buffers, whatever the callers' concurrency.
const MAX_IDLE: usize = 64;

#[derive(Default)]
struct Idle {
    buffers: Vec<Vec<Block>>,
    last_used: Option<Instant>,
    reaper_running: bool,
}

/// The pool of one hasher, for hashes of up to `max_blocks` blocks (the
/// hasher's own parameters); bigger ones (legacy hashes) get their own
/// buffer, freed at once.
pub(super) struct BlockPool {
    max_blocks: usize,
    idle: Mutex<Idle>,
}

impl std::fmt::Debug for BlockPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockPool")
            .field("max_blocks", &self.max_blocks)
            .field("idle", &self.idle.lock().buffers.len())
            .finish()
    }
}

impl BlockPool {
    pub(super) fn new(max_blocks: usize) -> Arc<Self> {
        Arc::new(BlockPool {
            max_blocks,
            idle: Mutex::new(Idle::default()),
        })
    }

    /// Runs `job` with `blocks` blocks of working memory.
    pub(super) fn with_blocks<R>(
        self: &Arc<Self>,
        blocks: usize,
        job: impl FnOnce(&mut [Block]) -> R,
    ) -> R {
        let pooled = blocks <= self.max_blocks && blocks * BLOCK_BYTES >= MIN_POOLED_BYTES;
        if !pooled {
            let mut own = new_buffer(blocks);
            return job(&mut own[..blocks]);
        }
        let mut buffer = self
            .idle
            .lock()
            .buffers
            .pop()
            .unwrap_or_else(|| new_buffer(self.max_blocks));
        // Stale contents are fine: Argon2 writes every block before reading it.
        buffer.resize(self.max_blocks.max(blocks), Block::default());
        let result = job(&mut buffer[..blocks]);
        self.give_back(buffer);
        result
    }

    fn give_back(self: &Arc<Self>, buffer: Vec<Block>) {
        let mut idle = self.idle.lock();
        idle.last_used = Some(Instant::now());
        if idle.buffers.len() < MAX_IDLE {
            idle.buffers.push(buffer);
        }
        if !idle.reaper_running {
            idle.reaper_running = spawn_reaper(Arc::downgrade(self));
        }
    }

    /// Drops the idle buffers if unused for `IDLE_RELEASE`; false when the
    /// pool is empty (the reaper can stop).
    fn release_if_idle(&self, now: Instant) -> bool {
        let mut idle = self.idle.lock();
        let quiet = idle
            .last_used
            .is_none_or(|t| now.duration_since(t) >= IDLE_RELEASE);
        if quiet {
            idle.buffers.clear();
        }
        if idle.buffers.is_empty() {
            idle.reaper_running = false;
            return false;
        }
        true
    }

    #[cfg(test)]
    fn idle_buffers(&self) -> usize {
        self.idle.lock().buffers.len()
    }
}

const BLOCK_BYTES: usize = std::mem::size_of::<Block>();

/// A buffer the allocator maps on its own (see the module comment).
fn new_buffer(blocks: usize) -> Vec<Block> {
    let reserve = blocks.max(SEPARATE_MAPPING / BLOCK_BYTES);
    let mut buffer = Vec::with_capacity(reserve);
    buffer.resize(blocks, Block::default());
    buffer
}

/// A thread that releases the pool's buffers once they go unused; it ends
/// when the pool is empty or dropped. False if it could not be started
/// (buffers are then kept, which is safe).
fn spawn_reaper(pool: Weak<BlockPool>) -> bool {
    let spawned = std::thread::Builder::new()
        .name("argon2-release".into())
        .spawn(move || loop {
            std::thread::sleep(IDLE_RELEASE / 2);
            match pool.upgrade() {
                Some(pool) if pool.release_if_idle(Instant::now()) => {}
                _ => return,
            }
        });
    spawned.is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const BLOCKS: usize = 2048; // 2 MiB: pooled

    #[test]
    fn buffers_are_reused_then_released_when_idle() {
        let pool = BlockPool::new(BLOCKS);
        let first = pool.with_blocks(BLOCKS, |b| b.as_ptr() as usize);
        let second = pool.with_blocks(BLOCKS, |b| b.as_ptr() as usize);
        assert_eq!(first, second, "the idle buffer is reused");
        assert_eq!(pool.idle_buffers(), 1);
        let later = Instant::now() + IDLE_RELEASE;
        assert!(!pool.release_if_idle(later));
        assert_eq!(pool.idle_buffers(), 0);
    }

    #[test]
    fn bigger_or_tiny_requests_are_not_pooled() {
        let pool = BlockPool::new(BLOCKS);
        assert_eq!(pool.with_blocks(BLOCKS * 2, |b| b.len()), BLOCKS * 2);
        assert_eq!(pool.with_blocks(64, |b| b.len()), 64);
        assert_eq!(pool.idle_buffers(), 0);
    }

    #[test]
    fn concurrent_hashes_get_their_own_buffer() {
        let pool = BlockPool::new(BLOCKS);
        let inner = pool.clone();
        let (a, b) = pool.with_blocks(BLOCKS, |outer| {
            let b = inner.with_blocks(BLOCKS, |b| b.as_ptr() as usize);
            (outer.as_ptr() as usize, b)
        });
        assert_ne!(a, b);
        assert_eq!(pool.idle_buffers(), 2);
    }

    #[test]
    fn pooled_hashes_verify_and_the_dummy_never_matches() {
        use crate::password::{HashParams, PasswordHasher, Verification};
        let params = HashParams {
            m_cost: 2048,
            t_cost: 1,
            p_cost: 1,
        };
        let hasher = PasswordHasher::new(params).unwrap();
        let phc = hasher.hash("pw-1").unwrap();
        for _ in 0..2 {
            assert_eq!(hasher.verify("pw-1", &phc), Verification::Match);
            assert_eq!(hasher.verify("pw-2", &phc), Verification::Mismatch);
        }
        assert!(hasher
            .dummy_hash
            .starts_with("$argon2id$v=19$m=2048,t=1,p=1$"));
        let dummy = argon2::PasswordHash::new(&hasher.dummy_hash).unwrap();
        assert_eq!(hasher.matches(b"", &dummy), Some(false));
        assert_eq!(hasher.pool.idle_buffers(), 1);
    }
}

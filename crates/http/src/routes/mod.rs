//! Routes of both API generations. A route is a thin adapter: extract,
//! call one service function, shape the answer.

pub mod auth;
pub mod authz;
pub mod data;
pub mod groups;
pub mod health;
pub mod sessions;
pub mod users;

/// Which API generation a request came through: the few differences
/// between them are the adapter's business, not the service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// plantdb-server 0.17: `/api/v1/...`.
    Current,
    /// plantdb-server 0.15: the same routes at the root.
    Legacy,
}

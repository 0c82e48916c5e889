//! plantdb-auth-http: the PlantDB-compatible HTTP adapter (axum) over the
//! service layer. `router(state)` gives the whole API, both generations.

pub mod access_log;
pub mod caller;
pub mod cors;
pub mod error;
pub mod extract;
pub mod hash_pool;
pub mod metrics;
pub mod openapi;
pub mod payload;
pub mod process_metrics;
pub mod proxy;
pub mod rate_limit;
pub mod request_id;
mod router;
pub mod routes;
pub mod state;

pub use error::ApiError;
pub use rate_limit::RateLimits;
pub use router::{metrics_router, router};
pub use state::{AppState, HttpConfig};

#[cfg(test)]
mod test_support;

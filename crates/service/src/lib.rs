//! plantdb-auth-service: the use-cases of PlantDB authentication as plain
//! functions over an [`AuthDb`], each returning a value or an [`AuthError`].
//! No HTTP here: the HTTP server and the CLI are adapters over these.

pub mod admin;
pub mod api_token;
pub mod auth;
pub mod bootstrap;
pub mod caller;
pub mod data;
mod db;
mod error;
pub mod health;
pub mod sessions;
pub mod storage;
pub mod throttle;

pub use api_token::{create_api_token, ApiTokenCreated, ApiTokenRequest};
pub use auth::{
    authenticate_user, authenticate_user_from, calibrate_login_pacing, check_username_exists,
    failed_login_duration, login_wait, logout_user, refresh_token, register_user, validate_token,
    LoginResult, NewUser, UserInfo,
};
pub use bootstrap::{ensure_default_accounts, AdminPassword, Bootstrap};
pub use caller::{authenticate, Caller, Identity};
pub use db::{ApiTokenPolicy, AuthDb, Backend, OpenError, Settings};
pub use error::{error_chain, AuthError};
pub use health::{health, readiness, DatabaseHealth, Readiness};
pub use throttle::{Throttle, ThrottlePolicy};

//! plantdb-auth-core: PlantDB's authentication domain without any web framework.
//!
//! - [`model`]: roles, permissions, users, groups, usernames;
//! - [`password`]: Argon2id hashing compatible with argon2-cffi, the password policy;
//! - [`store`]: user and group stores (FSDB JSON files, in-memory);
//! - [`session`]: JWT sessions, refresh rotation, API tokens, durable session state;
//! - [`rbac`]: pure authorization decisions on scans and datasets;
//! - [`clock`]: injected time;
//! - [`window`]: sliding-window counters for rate limits.

pub mod audit;
pub mod clock;
pub mod fnmatch;
pub mod model;
pub mod password;
pub mod rbac;
pub mod session;
pub mod store;
pub mod window;

//! The PlantDB domain model: roles, permissions, users, groups.

mod group;
mod permission;
mod role;
mod timestamp;
mod user;
mod username;

pub use group::{Group, GroupName, GroupNameError, MAX_GROUP_NAME_LEN};
pub use permission::{Permission, UnknownName};
pub use role::Role;
pub use timestamp::{format_py_datetime, parse_py_datetime};
pub use user::User;
pub use username::{Username, UsernameError, MAX_USERNAME_LEN};

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Black-box tests of the data API's write side (data-api.md §1.6, §1.7,
//! §1.9, §2, §8.2, §9, §11-§13): creating scans, filesets, files and
//! timelapses, metadata updates, archive uploads, who may write, body
//! limits, concurrency and crash safety. In process (`startup::build`),
//! except `crash`, which kills the real binary.

#[path = "../support/mod.rs"]
mod support;

mod helpers;
mod zip;

mod archives;
mod concurrency;
mod crash;
mod create;
mod limits;
mod permissions;

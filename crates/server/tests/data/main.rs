//! The data API (data-api.md), in process: listings, scan info, metadata,
//! files, previews, point clouds, archives, the viewer generation, access.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod assets;
mod files;
mod fixture;
mod helpers;
mod listings;
mod metadata;
mod scan_info;
mod smoke;
mod viewer;

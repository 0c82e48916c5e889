//! plantdb-data: PlantDB's data domain, without any web framework.
//!
//! - [`ids`]: the two id grammars (ids looked up, ids created);
//! - [`json`]: lenient reading of Python's JSON (`NaN`, `Infinity`) and
//!   writing in Python's layout;
//! - [`fsdb`]: the database directory: discovery, `files.json`, metadata,
//!   timelapses, and the [`fsdb::Index`] that stays fresh when other
//!   processes change the directory;
//! - [`scan_info`]: the scan-info document the web viewer and clients read;
//! - [`filter`]: `filterQuery` matching and sorting of listings;
//! - [`webcache`], [`image`], [`pointcloud`]: previews and their cache;
//! - [`archive`]: scans as zip archives;
//! - [`demo`]: synthetic but realistic scans for a new user.

pub mod archive;
pub mod demo;
mod error;
pub mod filter;
pub mod fsdb;
pub mod ids;
pub mod image;
pub mod json;
pub mod media_types;
pub mod pointcloud;
pub mod pyliteral;
pub mod scan_info;
pub mod webcache;

pub use error::DataError;

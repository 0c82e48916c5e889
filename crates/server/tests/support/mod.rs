//! Code shared by the integration-test binaries of `plantdb-auth`. Each
//! binary includes it with `#[path = "../support/mod.rs"] mod support;`
//! (`#[path = "support/mod.rs"]` from a top-level test file).
//
// Every test binary compiles its own copy of this module and uses only part
// of it (client_compat.rs and nginx.rs send no requests through `Reply`, the
// PostgreSQL tests never terminate a server gracefully, ...): what one binary
// leaves unused, another one uses.
#![allow(dead_code)]

pub mod in_process;
pub mod server;

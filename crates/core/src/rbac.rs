//! Authorization decisions on scans and datasets: pure data in, decision out.
//!
//! Mirrors `plantdb.commons.auth.rbac.RBACManager` (effective role on a scan,
//! access summary, who may change `owner`/`sharing`, the accessible-scans
//! filter) and the API-token dataset grants of `plantdb.commons.auth.models`.
//! Nothing here reads a store: callers pass the user, the names of the user's
//! groups and the scan's `owner`/`sharing` metadata.

mod grants;
mod scan;
mod summary;

pub use grants::{token_permissions, DatasetGrant, DatasetGrants, GrantError};
pub use scan::{
    accessible_scans, can, can_change_scan_metadata, effective_role, scan_permissions,
    token_scan_permissions, MetadataChangeDenied, ScanRef, GUEST_USERNAME,
};
pub use summary::{access_summary, AccessSummary};

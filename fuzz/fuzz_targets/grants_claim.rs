#![no_main]
//! `DatasetGrants::parse_claim`, the API-token `datasets` claim, on arbitrary
//! text (a claim comes from a signed token, but from a Python server too).
//!
//! Oracles: no panic; whatever parses is reproduced exactly by its claim and
//! JSON encodings; the permissions a dataset gets are among those requested
//! and never exceed the user's.

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use plantdb_auth_core::model::Permission;
use plantdb_auth_core::rbac::{token_permissions, DatasetGrants};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (claim, dataset) = text.split_once('\n').unwrap_or((&text, "scan_1"));
    let Ok(grants) = DatasetGrants::parse_claim(claim) else {
        return;
    };
    assert_eq!(
        DatasetGrants::parse_claim(&grants.to_claim()).as_ref(),
        Ok(&grants)
    );
    assert_eq!(
        DatasetGrants::from_json(&grants.to_json()).as_ref(),
        Ok(&grants)
    );
    let granted = grants.permissions_for(dataset);
    assert!(granted.is_subset(&grants.requested_permissions()));
    let user: BTreeSet<Permission> = [Permission::Read, Permission::Write].into();
    let effective = token_permissions(&user, &grants, dataset);
    assert!(effective.is_subset(&user) && effective.is_subset(&granted));
});

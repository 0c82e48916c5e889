//! API-token scopes end to end: a `datasets` request is turned into the
//! claim, signed into a real token, validated, read back, and asked about
//! datasets. Expectations are Python `fnmatch.fnmatchcase` worked out by
//! hand (rbac_matrix.rs checks the algebra, fnmatch_truth.rs the matcher).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use plantdb_auth_core::clock::SystemClock;
use plantdb_auth_core::model::{Permission, Role};
use plantdb_auth_core::rbac::{token_permissions, DatasetGrants};
use plantdb_auth_core::session::{
    MemorySessionStore, SessionConfig, SessionManager, SigningKey, TokenKind,
};
use serde_json::{json, Value};

/// The grants a freshly minted and validated token carries.
fn minted(datasets: &Value) -> DatasetGrants {
    let key = SigningKey::from_secret("scope tests").unwrap();
    let store = Arc::new(MemorySessionStore::default());
    let m =
        SessionManager::new(&key, store, Arc::new(SystemClock), SessionConfig::default()).unwrap();
    let claim = DatasetGrants::from_json(datasets).unwrap().to_claim();
    let (token, _) = m.create_api_token("alice", &claim, 3600).unwrap();
    let verified = m.validate(&token, &[TokenKind::Api]).unwrap();
    DatasetGrants::parse_claim(verified.claims.datasets.as_deref().unwrap_or("")).unwrap()
}

/// Letters r(ead) w(rite) c(reate) d(elete).
fn perms(letters: &str) -> BTreeSet<Permission> {
    letters
        .chars()
        .map(|c| match c {
            'r' => Permission::Read,
            'w' => Permission::Write,
            'c' => Permission::Create,
            'd' => Permission::Delete,
            other => panic!("unknown letter {other}"),
        })
        .collect()
}

/// (datasets of the token, dataset asked about, what an admin's token may do)
fn table() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        // `*` matches anything, the empty name and `/` included.
        (json!({"*": ["read"]}), "scan_1", "r"),
        (json!({"*": ["read"]}), "", "r"),
        (json!({"plant/*": ["read"]}), "plant/a/b", "r"),
        // `?` is exactly one character, any character.
        (json!({"scan_?": ["read", "write"]}), "scan_1", "rw"),
        (json!({"scan_?": ["read", "write"]}), "scan_/", "rw"),
        (json!({"scan_?": ["read", "write"]}), "scan_12", ""),
        (json!({"scan_?": ["read", "write"]}), "scan_", ""),
        // Classes, ranges and negated classes.
        (json!({"scan_[0-4]": ["delete"]}), "scan_3", "d"),
        (json!({"scan_[0-4]": ["delete"]}), "scan_5", ""),
        (json!({"scan_[!0-4]": ["create"]}), "scan_5", "c"),
        (json!({"scan_[!0-4]": ["create"]}), "scan_x", "c"),
        (json!({"scan_[!0-4]": ["create"]}), "scan_3", ""),
        (json!({"[abc]*": ["read"]}), "arabidopsis", "r"),
        (json!({"[abc]*": ["read"]}), "tomato", ""),
        // Case-sensitive (fnmatchcase, not fnmatch), anchored at both ends.
        (json!({"Scan_*": ["read"]}), "scan_1", ""),
        (json!({"Scan_*": ["read"]}), "Scan_1", "r"),
        (json!({"plant_*_2024": ["read"]}), "plant_a_2024", "r"),
        (json!({"plant_*_2024": ["read"]}), "plant_a_2024_b", ""),
        (json!({"plant_*_2024": ["read"]}), "xplant_a_2024", ""),
        // Everything else is literal: regex characters, `[*]`, a lone `[`.
        (json!({"scan.1": ["read"]}), "scan.1", "r"),
        (json!({"scan.1": ["read"]}), "scanx1", ""),
        (json!({"[*]": ["read"]}), "*", "r"),
        (json!({"[*]": ["read"]}), "a", ""),
        (json!({"a[b": ["read"]}), "a[b", "r"),
        // Overlapping patterns add up; a pattern may list nothing.
        (json!({"*": ["read"], "scan_*": ["write"]}), "scan_1", "rw"),
        (json!({"*": ["read"], "scan_*": ["write"]}), "tomato", "r"),
        (json!({"scan_*": [], "scan_1": ["delete"]}), "scan_1", "d"),
        (json!({}), "scan_1", ""),
    ]
}

#[test]
fn a_minted_token_grants_what_its_patterns_match() {
    let admin = Role::Admin.permissions();
    let wrong: Vec<String> = table()
        .into_iter()
        .filter_map(|(datasets, dataset, want)| {
            let got = token_permissions(&admin, &minted(&datasets), dataset);
            (got != perms(want))
                .then(|| format!("{datasets} on {dataset:?}: {got:?}, want {want:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_scope_never_lends_the_user_a_permission() {
    let reader = Role::Reader.permissions();
    let grants = minted(&json!({"*": ["read", "write", "delete"], "scan_?": ["create"]}));
    assert_eq!(token_permissions(&reader, &grants, "scan_1"), perms("r"));
    assert_eq!(token_permissions(&reader, &grants, "tomato"), perms("r"));
    let contributor = Role::Contributor.permissions();
    assert_eq!(
        token_permissions(&contributor, &grants, "scan_1"),
        perms("rwc")
    );
    assert_eq!(
        token_permissions(&contributor, &grants, "scan_10"),
        perms("rw")
    );
}

//! Scan access over the whole matrix role × ownership × sharing × permission,
//! the Python server's access reasons, metadata-change rules, and API-token
//! grants. Expectations are written out by hand, not derived from the code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use chrono::Utc;
use plantdb_auth_core::fnmatch::fnmatchcase;
use plantdb_auth_core::model::{GroupName, Permission, Role, User, Username};
use plantdb_auth_core::rbac::*;
use proptest::prelude::*;
use serde_json::json;

use Permission::*;

fn user(name: &str, roles: &[Role]) -> User {
    let name = Username::parse(name).unwrap();
    User::new(name, "", String::new(), roles.iter().copied(), Utc::now())
}

fn groups(names: &[&str]) -> Vec<GroupName> {
    names.iter().map(|n| GroupName::parse(n).unwrap()).collect()
}

fn scan(owner: Option<&str>, sharing: &[&str]) -> ScanRef {
    ScanRef {
        id: "scan_1".into(),
        owner: owner.map(str::to_string),
        sharing: sharing.iter().map(|s| s.to_string()).collect(),
    }
}

/// Letters: r(ead) w(rite) c(reate) d(elete) u(sers) g(roups).
fn letter(p: Permission) -> char {
    match p {
        Read => 'r',
        Write => 'w',
        Create => 'c',
        Delete => 'd',
        ManageUsers => 'u',
        ManageGroups => 'g',
    }
}

/// (global role, owns the scan, in a sharing group, effective role, allowed letters)
type Case = (Option<Role>, bool, bool, Option<Role>, &'static str);

#[rustfmt::skip]
const MATRIX: &[Case] = &[
    // global role,          owner, member, effective role,           allowed
    (None,                   false, false, None,                    ""),
    (None,                   false, true,  Some(Role::Contributor), "rwc"),
    (None,                   true,  false, Some(Role::Contributor), "rwc"),
    (None,                   true,  true,  Some(Role::Contributor), "rwc"),
    (Some(Role::Reader),     false, false, Some(Role::Reader),      "r"),
    (Some(Role::Reader),     false, true,  Some(Role::Contributor), "rwc"),
    (Some(Role::Reader),     true,  false, Some(Role::Contributor), "rwc"),
    (Some(Role::Reader),     true,  true,  Some(Role::Contributor), "rwc"),
    (Some(Role::Contributor),false, false, Some(Role::Contributor), "rwc"),
    (Some(Role::Contributor),false, true,  Some(Role::Contributor), "rwc"),
    (Some(Role::Contributor),true,  false, Some(Role::Contributor), "rwc"),
    (Some(Role::Contributor),true,  true,  Some(Role::Contributor), "rwc"),
    (Some(Role::Admin),      false, false, Some(Role::Admin),       "rwcdug"),
    (Some(Role::Admin),      false, true,  Some(Role::Admin),       "rwcdug"),
    (Some(Role::Admin),      true,  false, Some(Role::Admin),       "rwcdug"),
    (Some(Role::Admin),      true,  true,  Some(Role::Admin),       "rwcdug"),
];

#[test]
fn the_whole_matrix() {
    let mut checked = 0;
    for &(role, owner, member, want_role, allowed) in MATRIX {
        let alice = user("alice", role.as_slice());
        let s = scan(Some(if owner { "alice" } else { "bob" }), &["lab", "other"]);
        let g = groups(if member { &["lab"] } else { &["outsiders"] });
        let case = format!("role {role:?}, owner {owner}, member {member}");
        assert_eq!(effective_role(&alice, &g, &s), want_role, "{case}");
        for p in Permission::ALL {
            let want = allowed.contains(letter(p));
            assert_eq!(can(&alice, &g, &s, p), want, "{case}, {p}");
            assert_eq!(
                scan_permissions(&alice, &g, &s).contains(&p),
                want,
                "{case}, {p}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 2 * 2 * 6);
}

#[test]
fn extra_permissions_do_not_widen_scan_access() {
    let mut alice = user("alice", &[Role::Reader]);
    alice.extra_permissions.extend([Write, Delete]);
    let s = scan(Some("bob"), &[]);
    assert_eq!(scan_permissions(&alice, &[], &s), [Read].into());
}

#[test]
fn sharing_needs_both_the_listing_and_the_membership() {
    let reader = user("alice", &[Role::Reader]);
    let listed_not_member = scan(Some("bob"), &["lab"]);
    let member_not_listed = scan(Some("bob"), &["other"]);
    assert!(!can(&reader, &groups(&["x"]), &listed_not_member, Write));
    assert!(!can(&reader, &groups(&["lab"]), &member_not_listed, Write));
    // Group names are case-sensitive, as in groups.json.
    assert!(!can(&reader, &groups(&["Lab"]), &listed_not_member, Write));
}

#[test]
fn unowned_scans_belong_to_guest() {
    let guest = user("guest", &[Role::Reader]);
    assert!(can(&guest, &[], &scan(None, &[]), Write));
    assert!(!can(&guest, &[], &scan(Some("bob"), &[]), Write));
}

#[test]
fn accessible_scans_keeps_order_and_filters() {
    let alice = user("alice", &[]);
    let scans = vec![
        ScanRef {
            id: "a".into(),
            ..scan(Some("alice"), &[])
        },
        ScanRef {
            id: "b".into(),
            ..scan(Some("bob"), &[])
        },
        ScanRef {
            id: "c".into(),
            ..scan(Some("bob"), &["lab"])
        },
    ];
    let ids = |v: Vec<&ScanRef>| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(accessible_scans(&alice, &groups(&["lab"]), &scans, Read)),
        ["a", "c"]
    );
    let reader = user("carol", &[Role::Reader]);
    assert_eq!(
        ids(accessible_scans(&reader, &[], &scans, Read)),
        ["a", "b", "c"]
    );
    assert!(accessible_scans(&reader, &[], &scans, Write).is_empty());
}

fn reasons(u: &User, g: &[GroupName], s: &ScanRef) -> Vec<String> {
    access_summary(u, g, s, None).access_reason
}

#[test]
fn access_reasons_use_the_python_words_in_python_order() {
    let admin = user("admin", &[Role::Admin]);
    let alice = user("alice", &[Role::Reader]);
    let lab_and_b = groups(&["b", "lab"]);
    let shared = scan(Some("alice"), &["lab", "x", "b"]);
    assert_eq!(
        reasons(&admin, &[], &scan(Some("admin"), &[])),
        ["admin_role", "owner"]
    );
    assert_eq!(
        reasons(&admin, &lab_and_b, &shared),
        ["admin_role", "group_member: lab, b"]
    );
    assert_eq!(
        reasons(&alice, &lab_and_b, &shared),
        ["owner", "group_member: lab, b"]
    );
    assert_eq!(
        reasons(&alice, &[], &scan(Some("bob"), &["lab"])),
        ["global_role"]
    );
    assert_eq!(
        reasons(&admin, &[], &scan(Some("bob"), &[])),
        ["admin_role"]
    );

    let summary = access_summary(&alice, &lab_and_b, &shared, None);
    assert!(summary.is_owner);
    assert_eq!(summary.shared_groups, ["lab", "b"]);
    assert_eq!(summary.effective_role, Some(Role::Contributor));
}

#[test]
fn access_summary_json_has_the_python_keys() {
    let bob = user("bob", &[Role::Reader]);
    let json = serde_json::to_value(access_summary(&bob, &[], &scan(None, &[]), None)).unwrap();
    assert_eq!(
        json,
        json!({
            "effective_role": "reader",
            "permissions": ["read"],
            "access_reason": ["global_role"],
            "is_owner": false,
            "shared_groups": [],
        })
    );
}

#[test]
fn owner_change_needs_manage_users() {
    let old = scan(Some("alice"), &[]);
    let new = scan(Some("bob"), &[]);
    let contributor = user("alice", &[Role::Contributor]);
    assert_eq!(
        can_change_scan_metadata(&contributor, &[], &old, &new),
        Err(MetadataChangeDenied::Owner)
    );
    assert_eq!(
        can_change_scan_metadata(&user("root", &[Role::Admin]), &[], &old, &new),
        Ok(())
    );
    let mut manager = user("carol", &[Role::Reader]);
    manager.extra_permissions.insert(ManageUsers);
    assert_eq!(can_change_scan_metadata(&manager, &[], &old, &new), Ok(()));
    // A missing owner and "guest" are the same owner.
    let reader = user("dave", &[Role::Reader]);
    assert_eq!(
        can_change_scan_metadata(&reader, &[], &scan(None, &[]), &scan(Some("guest"), &[])),
        Ok(())
    );
}

#[test]
fn sharing_change_needs_write_on_the_scan() {
    let old = scan(Some("alice"), &["lab"]);
    let new = scan(Some("alice"), &["lab", "friends"]);
    let check = |u: &User, g: &[GroupName]| can_change_scan_metadata(u, g, &old, &new);
    assert_eq!(check(&user("alice", &[Role::Reader]), &[]), Ok(()));
    assert_eq!(
        check(&user("bob", &[Role::Reader]), &groups(&["lab"])),
        Ok(())
    );
    assert_eq!(check(&user("carol", &[Role::Contributor]), &[]), Ok(()));
    assert_eq!(
        check(&user("dave", &[Role::Reader]), &groups(&["friends"])),
        Err(MetadataChangeDenied::Sharing),
        "write is judged on the scan as it is, not as proposed"
    );
}

#[test]
fn owner_is_checked_before_sharing() {
    let reader = user("dave", &[Role::Reader]);
    let denied = can_change_scan_metadata(
        &reader,
        &[],
        &scan(Some("alice"), &[]),
        &scan(Some("dave"), &["lab"]),
    );
    assert_eq!(denied, Err(MetadataChangeDenied::Owner));
    assert!(denied.unwrap_err().to_string().contains("manage_users"));
}

#[test]
fn grants_round_trip_through_the_python_claim_format() {
    let body = json!({"scan_*": ["read", "Permission.WRITE"], "plant/a?": ["READ"], "none": []});
    let grants = DatasetGrants::from_json(&body).unwrap();
    let claim = grants.to_claim();
    assert_eq!(
        claim,
        "scan_*/Permission.READ,Permission.WRITE;plant/a?/Permission.READ;none/"
    );
    assert_eq!(DatasetGrants::parse_claim(&claim).unwrap(), grants);
    assert_eq!(DatasetGrants::from_json(&grants.to_json()).unwrap(), grants);
    assert_eq!(grants.requested_permissions(), [Read, Write].into());
    assert_eq!(grants.permissions_for("plant/ab"), [Read].into());
    assert_eq!(grants.permissions_for("scan_9"), [Read, Write].into());
    assert!(grants.permissions_for("none").is_empty());
}

#[test]
fn parses_what_python_writes() {
    // From the docstring of plantdb's dataset_perm_to_str.
    let claim = "dataset_A/Permission.READ;dataset_B/Permission.READ,Permission.CREATE";
    let grants = DatasetGrants::parse_claim(claim).unwrap();
    assert_eq!(grants.permissions_for("dataset_B"), [Read, Create].into());
    assert_eq!(grants.to_claim(), claim);
    assert!(DatasetGrants::parse_claim("").unwrap().is_empty());
    assert!(DatasetGrants::from_json(&json!({})).unwrap().is_empty());
    let lenient = DatasetGrants::parse_claim("a*/read, WRITE,Permission.delete").unwrap();
    assert_eq!(lenient.permissions_for("ab"), [Read, Write, Delete].into());
}

#[test]
fn grant_errors_say_what_is_wrong() {
    let err = |v: serde_json::Value| DatasetGrants::from_json(&v).unwrap_err();
    assert_eq!(err(json!(["read"])), GrantError::NotAnObject);
    assert_eq!(
        err(json!({"a": "read"})),
        GrantError::NotAList {
            pattern: "a".into()
        }
    );
    assert_eq!(
        err(json!({"a": ["read", 3]})),
        GrantError::NotAString {
            pattern: "a".into(),
            index: 1
        }
    );
    let unknown = err(json!({"scan_*": ["read", "fly"]})).to_string();
    assert!(
        unknown.contains("scan_*") && unknown.contains("'fly'"),
        "{unknown}"
    );
    assert!(matches!(
        err(json!({"a;b": ["read"]})),
        GrantError::Separator { .. }
    ));
    let long = "x".repeat(300);
    assert!(matches!(
        err(json!({ long: ["read"] })),
        GrantError::BadPattern { .. }
    ));
    assert!(DatasetGrants::parse_claim("a/Permission.FLY").is_err());
}

#[test]
fn a_token_never_exceeds_the_user_nor_the_pattern() {
    let grants =
        DatasetGrants::from_json(&json!({"*": ["read", "write"], "scan_1": ["delete"]})).unwrap();
    let reader: BTreeSet<_> = [Read].into();
    assert_eq!(token_permissions(&reader, &grants, "scan_1"), [Read].into());
    let admin = Role::Admin.permissions();
    assert_eq!(
        token_permissions(&admin, &grants, "scan_1"),
        [Read, Write, Delete].into()
    );
    assert_eq!(
        token_permissions(&admin, &grants, "scan_2"),
        [Read, Write].into()
    );
}

#[test]
fn a_token_on_a_scan_is_role_and_grant_and_current_permissions() {
    let grants = DatasetGrants::from_json(&json!({"scan_*": ["read", "write"]})).unwrap();
    let contributor = user("bob", &[Role::Contributor]);
    let s = scan(Some("alice"), &[]);
    assert_eq!(
        token_scan_permissions(&contributor, &[], &s, &grants),
        [Read, Write].into()
    );
    // Demoted to reader: the token's write dies, even on the user's own scan.
    let owner_reader = user("alice", &[Role::Reader]);
    assert_eq!(
        token_scan_permissions(&owner_reader, &[], &s, &grants),
        [Read].into()
    );
    let summary = access_summary(&owner_reader, &[], &s, Some(&grants));
    assert_eq!(summary.permissions, [Read].into());
    assert_eq!(summary.effective_role, Some(Role::Contributor));
    let other = ScanRef {
        id: "other".into(),
        ..s
    };
    assert!(token_scan_permissions(&contributor, &[], &other, &grants).is_empty());
}

const PATTERNS: &[&str] = &[
    "*",
    "scan_*",
    "scan_?",
    "scan_[0-4]",
    "scan_[!0-4]",
    "plant/*",
    "p[]]",
    "x",
];
const DATASETS: &[&str] = &["scan_1", "scan_7", "scan_10", "plant/a", "p]", "x", "y", ""];

fn perms_from_mask(mask: u8) -> BTreeSet<Permission> {
    Permission::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, p)| p)
        .collect()
}

fn grants_strategy() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((0..PATTERNS.len(), 0u8..64), 0..6)
}

fn build(entries: &[(usize, u8)]) -> DatasetGrants {
    let mut grants = DatasetGrants::new();
    for &(p, mask) in entries {
        grants.insert(PATTERNS[p], perms_from_mask(mask)).unwrap();
    }
    grants
}

proptest! {
    #[test]
    fn token_permission_algebra(user_mask in 0u8..64, entries in grants_strategy(), d in 0..DATASETS.len()) {
        let user_perms = perms_from_mask(user_mask);
        let grants = build(&entries);
        let dataset = DATASETS[d];
        let got = token_permissions(&user_perms, &grants, dataset);
        prop_assert!(got.is_subset(&user_perms));
        prop_assert!(got.is_subset(&grants.permissions_for(dataset)));
        prop_assert!(grants.permissions_for(dataset).is_subset(&grants.requested_permissions()));
        // Independently: union over matching patterns of (listed ∩ user).
        let mut want = BTreeSet::new();
        for g in grants.iter() {
            if fnmatchcase(dataset, g.pattern().as_str()) {
                want.extend(g.permissions().intersection(&user_perms).copied());
            }
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn claims_and_json_round_trip(entries in grants_strategy()) {
        let grants = build(&entries);
        prop_assert_eq!(DatasetGrants::parse_claim(&grants.to_claim()).unwrap(), grants.clone());
        prop_assert_eq!(DatasetGrants::from_json(&grants.to_json()).unwrap(), grants);
    }

    #[test]
    fn a_token_on_a_scan_never_exceeds_session_access(
        role in prop::option::of(prop::sample::select(Role::ALL.to_vec())),
        extra in 0u8..64,
        owner in any::<bool>(),
        member in any::<bool>(),
        entries in grants_strategy(),
    ) {
        let mut u = user("alice", role.as_slice());
        u.extra_permissions = perms_from_mask(extra);
        let s = scan(Some(if owner { "alice" } else { "bob" }), &["lab"]);
        let g = groups(if member { &["lab"] } else { &[] });
        let token = token_scan_permissions(&u, &g, &s, &build(&entries));
        prop_assert!(token.is_subset(&scan_permissions(&u, &g, &s)));
        prop_assert!(token.is_subset(&u.permissions()));
    }
}

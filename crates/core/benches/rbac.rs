#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! RBAC decisions: the effective role on a scan, a permission check, the
//! listing filter over 1 000 scans, and API-token grants.

use std::hint::black_box;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use plantdb_auth_core::model::{GroupName, Permission, Role, User, Username};
use plantdb_auth_core::rbac::{
    accessible_scans, can, effective_role, token_scan_permissions, DatasetGrants, ScanRef,
};

fn user(name: &str, role: Role) -> User {
    User::new(
        Username::parse(name).unwrap(),
        "Bench",
        String::new(),
        [role],
        Utc::now(),
    )
}

fn scans(n: usize) -> Vec<ScanRef> {
    (0..n)
        .map(|i| ScanRef {
            id: format!("real_plant_{i:04}"),
            owner: Some(format!("owner{}", i % 50)),
            sharing: vec![format!("team{}", i % 20), format!("lab{}", i % 7)],
        })
        .collect()
}

fn decisions(c: &mut Criterion) {
    let reader = user("reader", Role::Reader);
    let admin = user("admin", Role::Admin);
    let groups: Vec<GroupName> = ["team3", "lab1", "other"]
        .iter()
        .map(|g| GroupName::parse(g).unwrap())
        .collect();
    let all = scans(1000);
    let shared = &all[3];
    let foreign = &all[4];
    let mut group = c.benchmark_group("rbac");
    group.bench_function("effective_role/admin", |b| {
        b.iter(|| effective_role(black_box(&admin), &groups, black_box(foreign)))
    });
    group.bench_function("effective_role/shared_scan", |b| {
        b.iter(|| effective_role(black_box(&reader), &groups, black_box(shared)))
    });
    group.bench_function("can_write/foreign_scan", |b| {
        b.iter(|| {
            can(
                black_box(&reader),
                &groups,
                black_box(foreign),
                Permission::Write,
            )
        })
    });
    group.bench_function("accessible_scans/1000", |b| {
        b.iter(|| {
            accessible_scans(
                black_box(&reader),
                &groups,
                black_box(&all),
                Permission::Write,
            )
            .len()
        })
    });
    let claim = "real_plant_00*/Permission.READ,Permission.WRITE;arabidopsis_*/Permission.READ";
    let grants = DatasetGrants::parse_claim(claim).unwrap();
    group.bench_function("grants/parse_claim", |b| {
        b.iter(|| DatasetGrants::parse_claim(black_box(claim)).unwrap())
    });
    group.bench_function("grants/token_scan_permissions", |b| {
        b.iter(|| token_scan_permissions(black_box(&reader), &groups, black_box(shared), &grants))
    });
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);

#!/usr/bin/env python3
"""Scale the data fixture up to an N-scan PlantDB database for bench/data.sh.

Usage: scale_db.py FIXTURE OUT [--scans 300] [--big-file-mib 64] [--cloud-points 500000]

FIXTURE is a database written by scripts/pycompat/generate_data_fixture.py. OUT
(must not exist) gets `romidb`, `users.json`, `groups.json`, `configs/` of the
fixture and N scans: copies of the fixture's top-level scans, round-robin, named
`<template>__<NNN>`. Timelapse containers (`timelapse.json`) are left out: the
Python server 0.17 cannot start on a database that holds one.

Then, for the benchmark:
  * scan `real_plant_analyzed__000` (the "bench scan": 4 JPEG 1440x1080, a
    6 000-point PointCloud) gets a BIG file of --big-file-mib MiB of random bytes,
    `Colmap__True_None_0/big.bin`, registered in files.json as id `big`;
  * scan `real_plant_analyzed__001` (the "big-cloud scan") gets its PointCloud.ply
    replaced by a seeded synthetic plant of --cloud-points points (a stem and
    leaves: surfaces, as a reconstruction gives; binary little-endian float32
    xyz + normals + uchar rgb, the fixture's layout), ~27 bytes a point.
Standard library only (no numpy): runs under any python3. Prints a JSON manifest.
"""

import argparse
import json
import math
import os
import random
import shutil
import struct
import sys
from pathlib import Path

BENCH_TEMPLATE = "real_plant_analyzed"
BIG_FILESET = "Colmap__True_None_0"
SEED = 20261202


def templates(fixture):
    out = []
    for d in sorted(Path(fixture).iterdir()):
        if not d.is_dir() or d.name.startswith(".") or d.name == "configs":
            continue
        if (d / "timelapse.json").exists() or not (d / "files.json").exists():
            continue
        out.append(d)
    return out


def add_file(scan_dir, fileset, file_id, name):
    files_json = scan_dir / "files.json"
    doc = json.loads(files_json.read_text())
    for fs in doc["filesets"]:
        if fs["id"] == fileset:
            fs["files"].append({"file": name, "id": file_id})
            break
    else:
        raise SystemExit(f"{scan_dir.name}: no fileset {fileset}")
    files_json.write_text(json.dumps(doc, indent=4))


def write_big_file(path, mib):
    rng = random.Random(SEED)
    block = rng.randbytes(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            # Different bytes in every MiB (no block-level dedup anywhere).
            f.write(block[i:] + block[:i])


def synthetic_plant(n, seed=SEED):
    """(x, y, z, nx, ny, nz, r, g, b) for n points on a stem and ~40 leaves
    (mm, around the fixture's workspace): a surface cloud, which the 1.8 mm
    preview voxels reduce about tenfold, as a real reconstruction."""
    rng = random.Random(seed)
    cx, cy = 370.0, 380.0
    leaves = []
    for k in range(40):
        h = 20 + k * 7.0
        phi = k * 2.39996  # golden angle: phyllotaxis
        length = 25 + 45 * math.sin(math.pi * (k + 1) / 41)
        leaves.append((h, phi, length, length * 0.45, 0.35 + 0.3 * rng.random()))
    stem_share = 0.08
    for i in range(n):
        if rng.random() < stem_share:
            a = rng.random() * 2 * math.pi
            z = rng.random() * 300
            nx, ny, nz = math.cos(a), math.sin(a), 0.0
            x, y = cx + 3 * nx, cy + 3 * ny
            rgb = (60, 140, 50)
        else:
            h, phi, length, width, tilt = leaves[rng.randrange(len(leaves))]
            # a point on an ellipse in the leaf's local (u, v) plane
            while True:
                u, v = rng.random(), rng.uniform(-1, 1)
                if (2 * u - 1) ** 2 + v * v <= 1:
                    break
            lu, lv = u * length, v * width / 2
            ct, st = math.cos(tilt), math.sin(tilt)
            dx, dy = math.cos(phi), math.sin(phi)
            x = cx + lu * ct * dx - lv * dy
            y = cy + lu * ct * dy + lv * dx
            z = h + lu * st
            nx, ny, nz = -st * dx, -st * dy, ct
            g = 110 + int(80 * u)
            rgb = (40, g, 40)
        yield x, y, z, nx, ny, nz, *rgb


def write_cloud(path, n):
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        "comment synthetic plant for bench/data.sh (scale_db.py)\n"
        f"element vertex {n}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property float nx\nproperty float ny\nproperty float nz\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        "end_header\n"
    ).encode()
    row = struct.Struct("<6f3B")
    with open(path, "wb") as f:
        f.write(header)
        buf = bytearray()
        for p in synthetic_plant(n):
            buf += row.pack(*p)
            if len(buf) >= 1 << 20:
                f.write(buf)
                buf.clear()
        f.write(buf)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fixture")
    p.add_argument("out")
    p.add_argument("--scans", type=int, default=300)
    p.add_argument("--big-file-mib", type=int, default=64)
    p.add_argument("--cloud-points", type=int, default=500_000)
    a = p.parse_args()

    fixture, out = Path(a.fixture), Path(a.out)
    if not (fixture / "romidb").exists():
        sys.exit(f"{fixture} is not a PlantDB database (no romidb)")
    if out.exists():
        sys.exit(f"{out} exists")
    tpl = templates(fixture)
    names = [t.name for t in tpl]
    if BENCH_TEMPLATE not in names:
        sys.exit(f"the fixture has no {BENCH_TEMPLATE} scan (has {names})")
    # The bench template first, so that __000 and __001 are copies of it.
    tpl.sort(key=lambda t: t.name != BENCH_TEMPLATE)
    out.mkdir(parents=True)
    for name in ("romidb", "users.json", "groups.json"):
        if (fixture / name).exists():
            shutil.copy2(fixture / name, out / name)
    if (fixture / "configs").is_dir():
        shutil.copytree(fixture / "configs", out / "configs")

    scans = []
    bench_copies = 0
    for i in range(a.scans):
        # Two copies of the bench template first (bench scan, big-cloud scan), then round-robin.
        t = tpl[0] if i < 2 else tpl[(i - 2) % len(tpl)]
        name = f"{t.name}__{i:03d}"
        shutil.copytree(t, out / name, ignore=shutil.ignore_patterns("webcache"))
        scans.append(name)
        bench_copies += t.name == BENCH_TEMPLATE

    bench_scan = f"{BENCH_TEMPLATE}__000"
    big = out / bench_scan / BIG_FILESET / "big.bin"
    write_big_file(big, a.big_file_mib)
    add_file(out / bench_scan, BIG_FILESET, "big", "big.bin")

    cloud_scan = f"{BENCH_TEMPLATE}__001"
    clouds = sorted((out / cloud_scan).glob("PointCloud_*/PointCloud.ply"))
    if len(clouds) != 1:
        sys.exit(f"{cloud_scan}: expected one PointCloud_*/PointCloud.ply, found {clouds}")
    write_cloud(clouds[0], a.cloud_points)

    images = json.loads((out / bench_scan / "files.json").read_text())
    image_ids = [f["id"] for fs in images["filesets"] if fs["id"] == "images" for f in fs["files"]]
    manifest = {
        "scans": len(scans),
        "templates": names,
        "bench_scan": bench_scan,
        "image": {"fileset": "images", "file": image_ids[0]},
        "big_file": {"fileset": BIG_FILESET, "file": "big", "relpath": f"{bench_scan}/{BIG_FILESET}/big.bin",
                     "bytes": big.stat().st_size},
        "cloud_scan": cloud_scan,
        "cloud_points": a.cloud_points,
        "cloud_bytes": clouds[0].stat().st_size,
        "bench_cloud_bytes": next((out / bench_scan).glob("PointCloud_*/PointCloud.ply")).stat().st_size,
        "db_bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file()),
    }
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()

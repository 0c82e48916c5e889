#!/usr/bin/env python3
"""Write a realistic PlantDB FSDB *data* fixture with the REAL `plantdb.commons` 0.17 package.

Usage: python generate_data_fixture.py OUT_DIR [--with-broken] [--force]
Run it with the venv made by scripts/python-env.sh (plantdb-commons is enough: no
Open3D, no Flask). OUT_DIR must not exist or be empty (or pass --force to wipe it).

Everything structural goes through the package's FSDB API, logged in as `admin`
(`FSDB(path)` + `login`), so `files.json`, metadata JSON, `timelapse.json`,
`users.json` and `groups.json` have exactly the formats plantdb writes:
`create_scan`, `create_fileset`, `create_file`, `File.write_raw`, `set_metadata`,
`change_owner`, `create_timelapse`, `TimeLapse.create_scan`, `create_user`,
`create_group`. Only what the package has no API for is written directly:
`measures.json`, `pipeline.toml`, the `configs/` directory and the broken cases.

Content (all data seeded: images and PLY bytes are identical between runs with
the same numpy/Pillow; the timestamps, password hashes and JWT-free parts the
package writes itself change on every run):

  real_plant_analyzed  full plant-3d-vision pipeline: images 4x JPEG 1440x1080 with
                       `channel: rgb` + `colmap_camera`; Colmap__True_None_0 (cameras,
                       images, points); PointCloud (binary LE float32 xyz+normals+uchar
                       rgb); TriangleMesh (binary LE, triangles + 2 quads); CurveSkeleton;
                       TreeGraph (pickle); AnglesAndInternodes; measures.json;
                       ScanPath + pipeline.toml [Voxels] bounding_box; MIAPPE plant-1
  arabidopsis_B2       12x JPEG 96x72 (no colmap: camera {}); `workspace` in metadata;
                       PointCloud (binary LE float64 xyz, no colour); CurveSkeleton;
                       AnglesAndInternodes without measures.json; MIAPPE plant-10
  virtual_plant        VirtualPlant fileset (isVirtual); images: RGBA PNG (rgb),
                       grey PNG (channel `stem`), 16-bit grey TIFF (rgb); PointCloud
                       binary BIG endian float32 + float colours; no acquisition_date
                       (the date is the directory ctime); MIAPPE plant-11
  shared_scan          images only (no pipeline); owner `alice`, sharing [phenotyping];
                       ScanPath without center (workspace 375/375/-500); MIAPPE plant-12
  legacy_014_scan      0.14-style `object.{species,plant_id,environment}` only; images
                       fileset metadata `workspace`
  ground_truth_scan    PointCloud + PointCloudGroundTruth + SegmentedPointCloud; MIAPPE plant-3
  tl_plant/            timelapse container (timelapse.json), scans created out of order:
    tl_plant_d1        scheduled 2026-09-03T14:00:00Z, index 1
    tl_plant_d0        scheduled 2026-09-03T10:00:00Z, index 0; PointCloud as ASCII PLY
  configs/             pipeline configs directory (skipped by plantdb)
  users.json           guest, admin (admin/admin), alice (contributor), bob (reader)
  groups.json          phenotyping = {admin, alice, bob}
  passwords.json       {username: password} (not a plantdb file; for the tests)

--with-broken adds (for --ours-only checks; see the spec §1.1, §5.4):
  broken_metadata      a scan whose metadata/metadata.json is not valid JSON
                       (Python loads it as {} and still starts)
  iso_date_scan        acquisition_date "2024-03-04T10:00:00" (Python: the scan's info
                       fails, so the whole /scans/info list fails; ours: degraded/ISO rule)
  dangling_files       files.json lists a missing file and a `"file": null` entry
  not_a_scan           a candidate directory with metadata/ but WITHOUT files.json:
                       the Python server REFUSES TO START on such a database (P1)
"""
import argparse
import contextlib
import io
import json
import logging
import math
import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

logging.disable(logging.ERROR)  # the package logs every operation at INFO/WARNING

from plantdb.commons.auth.models import Role  # noqa: E402
from plantdb.commons.fsdb.core import FSDB  # noqa: E402
from plantdb.commons.fsdb.path_helpers import MARKER_FILE_NAME  # noqa: E402

SEED = 20261202
PASSWORDS = {"guest": "guest", "admin": "admin", "alice": "Alice-pass-42", "bob": "Bob-pass-42"}

FS_IMAGES = "images"
FS_COLMAP = "Colmap__True_None_0"
FS_PCD = "PointCloud_1_0_1_0_False_4ce2e46446"
FS_MESH = "TriangleMesh_9_most_connected_t_open3d_00e095c359"
FS_SKEL = "CurveSkeleton_out__TriangleMesh_6a92751c20"
FS_TREE = "TreeGraph__False_CurveSkeleton_c304a2cc71"
FS_ANGLES = "AnglesAndInternodes_1_0_1_0_False_2cd7f8ba1b"
FS_VIRTUAL = "VirtualPlant_cf0a4a2c3e"
FS_GT = "PointCloudGroundTruth_1_0_a1b2c3d4e5"
FS_SEG = "SegmentedPointCloud_1_0_False_9f8e7d6c5b"


# --------------------------------------------------------------------------- data makers

def plant_image(rng, width, height, mode="RGB", hue=0):
    """A synthetic plant photo: sky-to-soil gradient, a stem and leaves, mild noise."""
    w, h = width, height
    y = np.linspace(0, 1, h)[:, None]
    x = np.linspace(0, 1, w)[None, :]
    base = np.empty((h, w, 3), dtype=np.float64)
    base[..., 0] = 200 - 90 * y + 20 * x
    base[..., 1] = 210 - 60 * y
    base[..., 2] = 230 - 150 * y + 10 * np.sin(6 * x + hue)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    cx = int(w * (0.45 + 0.1 * rng.random()))
    d.line([(cx, h), (cx + w // 40, int(h * 0.2))], fill=(96, 70, 40), width=max(1, w // 80))
    for _ in range(7):
        lx = cx + int((rng.random() - 0.5) * w * 0.5)
        ly = int(h * (0.2 + 0.6 * rng.random()))
        rx, ry = max(2, int(w * 0.08 * (0.5 + rng.random()))), max(1, int(h * 0.04 * (0.5 + rng.random())))
        g = int(120 + 100 * rng.random())
        d.ellipse([lx - rx, ly - ry, lx + rx, ly + ry], fill=(30, g, 40))
    arr = np.asarray(img).astype(np.int16)
    arr = arr + rng.integers(-6, 7, size=arr.shape)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if mode == "RGBA":
        alpha = Image.new("L", (w, h), 255)
        ImageDraw.Draw(alpha).rectangle([0, 0, w // 4, h // 4], fill=0)
        img.putalpha(alpha)
    elif mode == "L":
        img = img.convert("L")
    return img


def encode_image(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def tiff16(rng, width, height):
    """16-bit grey TIFF (Pillow mode I;16): values above 255 so clipping vs scaling differ."""
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    arr = (4000 + 50000 * x * (1 - y) + rng.integers(0, 500, size=(height, width))).astype("<u2")
    img = Image.frombytes("I;16", (width, height), arr.tobytes())
    return encode_image(img, "TIFF")


def plant_points(rng, n, with_colour=True):
    """A plant-like cloud in mm: a vertical stem plus leaf blades."""
    n_stem = n // 4
    t = rng.random(n_stem) * 200.0
    a = rng.random(n_stem) * 2 * math.pi
    stem = np.stack([370 + 2.5 * np.cos(a), 380 + 2.5 * np.sin(a), -500 + t], axis=1)
    leaves = []
    per = (n - n_stem) // 6
    for k in range(6):
        z0 = -480 + 30 * k
        ang = k * 2.4
        u = rng.random(per) * 40
        v = (rng.random(per) - 0.5) * 12 * np.sin(np.pi * u / 40)
        lx = 370 + u * math.cos(ang) - v * math.sin(ang)
        ly = 380 + u * math.sin(ang) + v * math.cos(ang)
        lz = z0 + 0.15 * u + rng.normal(0, 0.3, per)
        leaves.append(np.stack([lx, ly, lz], axis=1))
    pts = np.concatenate([stem] + leaves, axis=0)
    cols = np.zeros((len(pts), 3), dtype=np.uint8)
    cols[:n_stem] = (110, 80, 50)
    cols[n_stem:] = np.stack([rng.integers(20, 60, len(pts) - n_stem),
                              rng.integers(120, 220, len(pts) - n_stem),
                              rng.integers(20, 70, len(pts) - n_stem)], axis=1)
    normals = rng.normal(0, 1, size=pts.shape)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return pts, (cols if with_colour else None), normals


def ply_bytes(fmt, vertex_props, vertex_cols, faces=None, comment="generated by plantdb-auth generate_data_fixture.py"):
    """Serialise a PLY. vertex_props: [(name, numpy dtype str without byte order)],
    vertex_cols: list of 1-D arrays; faces: list of index lists (uchar count, int indices)."""
    ply_type = {"f4": "float", "f8": "double", "u1": "uchar", "i4": "int"}
    n = len(vertex_cols[0])
    head = [f"ply", f"format {fmt} 1.0", f"comment {comment}", f"element vertex {n}"]
    head += [f"property {ply_type[t]} {name}" for name, t in vertex_props]
    if faces is not None:
        head += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    head.append("end_header")
    out = io.BytesIO()
    out.write(("\n".join(head) + "\n").encode("ascii"))
    if fmt == "ascii":
        for i in range(n):
            out.write((" ".join(repr(float(c[i])) if t.startswith("f") else str(int(c[i]))
                                for c, (_, t) in zip(vertex_cols, vertex_props)) + "\n").encode())
        for f in faces or []:
            out.write((" ".join(str(v) for v in [len(f)] + list(f)) + "\n").encode())
        return out.getvalue()
    bo = "<" if fmt == "binary_little_endian" else ">"
    dt = np.dtype([(name, bo + t) for name, t in vertex_props])
    arr = np.empty(n, dtype=dt)
    for (name, _), col in zip(vertex_props, vertex_cols):
        arr[name] = col
    out.write(arr.tobytes())
    for f in faces or []:
        out.write(np.array([len(f)], dtype="u1").tobytes())
        out.write(np.array(f, dtype=bo + "i4").tobytes())
    return out.getvalue()


def pointcloud_ply(rng, n, fmt="binary_little_endian", xyz="f4", colour="u1", normals=False):
    pts, cols, nrm = plant_points(rng, n, with_colour=colour is not None)
    props = [("x", xyz), ("y", xyz), ("z", xyz)]
    data = [pts[:, 0], pts[:, 1], pts[:, 2]]
    if normals:
        props += [("nx", "f4"), ("ny", "f4"), ("nz", "f4")]
        data += [nrm[:, 0], nrm[:, 1], nrm[:, 2]]
    if colour is not None:
        props += [("red", colour), ("green", colour), ("blue", colour)]
        c = cols.astype(np.float64) / 255.0 if colour.startswith("f") else cols
        data += [c[:, 0], c[:, 1], c[:, 2]]
    return ply_bytes(fmt, props, data)


def mesh_ply(rng):
    """A small leaf-like mesh: a grid of triangles plus two quads (fan-triangulated by readers)."""
    nx, ny = 12, 8
    xs, ys = np.meshgrid(np.linspace(0, 60, nx), np.linspace(-10, 10, ny))
    zs = -450 + 0.1 * xs + rng.normal(0, 0.2, xs.shape)
    verts = np.stack([370 + xs.ravel(), 380 + ys.ravel(), zs.ravel()], axis=1)
    faces = []
    for j in range(ny - 1):
        for i in range(nx - 1):
            a, b, c, d = j * nx + i, j * nx + i + 1, (j + 1) * nx + i + 1, (j + 1) * nx + i
            if (i, j) in ((0, 0), (5, 3)):
                faces.append([a, b, c, d])  # quad
            else:
                faces.append([a, b, c])
                faces.append([a, c, d])
    props = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    return ply_bytes("binary_little_endian", props, [verts[:, 0], verts[:, 1], verts[:, 2]], faces)


def skeleton_json(rng):
    pts = [[370.0, 380.0, -500.0 + 10 * k] for k in range(15)]
    lines = [[k, k + 1] for k in range(14)]
    for k in (4, 8, 12):
        pts.append([370.0 + 20 * math.cos(k), 380.0 + 20 * math.sin(k), -500.0 + 10 * k + 5])
        lines.append([k, len(pts) - 1])
    return {"points": [[round(c + float(rng.normal(0, 0.01)), 6) for c in p] for p in pts], "lines": lines}


def angles_json(rng, n=9):
    angles = [round(float(a), 6) for a in (2.39996 + rng.normal(0, 0.2, n))]
    internodes = [round(float(x), 3) for x in (12 + rng.normal(0, 3, n))]
    return {"angles": angles, "internodes": internodes,
            "fruit_points": [[[370.0, 380.0, -400.0 + 12 * k]] for k in range(3)],
            "organ_spatial_points": []}


def colmap_camera(rng, k, width, height):
    theta = 2 * math.pi * k / 60
    rot = [[round(math.cos(theta), 6), round(-math.sin(theta), 6), 0.0],
           [0.0, 0.0, -1.0],
           [round(math.sin(theta), 6), round(math.cos(theta), 6), 0.0]]
    return {"camera_model": {"id": 1, "model": "OPENCV", "width": width, "height": height,
                             "params": [1166.95, 1166.95, width / 2, height / 2, -0.00135, -0.00135, 0.0, 0.0]},
            "tvec": [round(float(v), 4) for v in rng.normal(0, 50, 3)], "rotmat": rot}


# --------------------------------------------------------------------------- FSDB helpers

def miappe(plant_id, species="Arabidopsis thaliana", facility="Lyon indoor", genus="Arabidopsis"):
    return {"biologicalMaterial": {"biologicalMaterialId": plant_id,
                                   "organism": {"genus": genus, "species": species}},
            "study": {"identifier": "ROMI-2024", "title": "Phyllotaxis",
                      "growthFacility": {"name": facility, "country": "France"}},
            "investigation": {"identifier": "ROMI", "title": "Robotics for microfarms"}}


def add_file(fileset, file_id, data, ext, metadata=None):
    f = fileset.create_file(file_id, metadata=dict(metadata) if metadata else None)
    f.write_raw(data, ext=ext)
    return f


def add_images(rng, scan, specs, fs_metadata=None, colmap=False):
    """specs: list of (file_id, width, height, fmt, channel)."""
    fs = scan.create_fileset(FS_IMAGES)
    if fs_metadata:
        fs.set_metadata(fs_metadata)
    for k, (fid, w, h, fmt, channel) in enumerate(specs):
        md = {"channel": channel, "shot_id": f"{k:06d}"}
        if colmap:
            md["colmap_camera"] = colmap_camera(rng, k, w, h)
        if fmt == "jpg":
            data, ext = encode_image(plant_image(rng, w, h, hue=k), "JPEG", quality=88), "jpg"
        elif fmt == "png":
            data, ext = encode_image(plant_image(rng, w, h, mode="RGBA", hue=k), "PNG"), "png"
        elif fmt == "png-grey":
            data, ext = encode_image(plant_image(rng, w, h, mode="L", hue=k), "PNG"), "png"
        elif fmt == "tif16":
            data, ext = tiff16(rng, w, h), "tif"
        else:
            raise ValueError(fmt)
        add_file(fs, fid, data, ext, md)
    return fs


def add_task(scan, fs_id, files, fs_metadata=None):
    """files: list of (file_id, bytes, ext)."""
    fs = scan.create_fileset(fs_id)
    if fs_metadata:
        fs.set_metadata(fs_metadata)
    for fid, data, ext in files:
        add_file(fs, fid, data, ext)
    return fs


def jdump(obj):
    return json.dumps(obj, indent=4).encode()


PIPELINE_TOML = """[Colmap]
matcher = "exhaustive"
compute_dense = false
align_pcd = true
calibration_scan_id = ""

[Voxels]
voxel_size = 1.0
type = "carving"
use_colmap_poses = true

[Voxels.bounding_box]
x = [ 220, 520,]
y = [ 230, 530,]
z = [ -500, -200,]

[PointCloud]
level_set_value = 1.0
background_prior = -200

[AnglesAndInternodes]
upstream_task = "TreeGraph"
characteristic_length = 1.0
"""


def build(root: Path, with_broken: bool):
    rng = np.random.default_rng(SEED)
    (root / MARKER_FILE_NAME).touch()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        db = FSDB(root)  # creates users.json/groups.json with guest/guest and admin/admin
        db.connect()
        assert db.login("admin", PASSWORDS["admin"])
        db.create_user("alice", "Alice Liddell", PASSWORDS["alice"], roles={Role.CONTRIBUTOR})
        db.create_user("bob", "Bob Reader", PASSWORDS["bob"], roles={Role.READER})
        assert db.create_group("phenotyping", users={"alice", "bob"}, description="Phenotyping team")

    # 1. real_plant_analyzed: the whole pipeline.
    md = miappe("plant-1")
    md.update({"acquisition_date": "2024-03-04 10:00:00",
               "ScanPath": {"class_name": "Circle",
                            "kwargs": {"center_x": 370, "center_y": 380, "z": 80, "tilt": 0,
                                       "radius": 350, "n_points": 60}},
               "hardware": {"frame": "30profile XXL", "X_motor": "X-Carve NEMA23", "sensor": "gphoto2"}})
    scan = db.create_scan("real_plant_analyzed", metadata=md)
    add_images(rng, scan, [(f"{k:05d}_rgb", 1440, 1080, "jpg", "rgb") for k in range(4)], colmap=True)
    cams = {"1": colmap_camera(rng, 0, 1440, 1080)["camera_model"]}
    add_task(scan, FS_COLMAP, [("cameras", jdump(cams), "json"),
                               ("images", jdump({str(k + 1): {"name": f"{k:05d}_rgb.jpg"} for k in range(4)}), "json"),
                               ("points", jdump({"1": {"xyz": [370.0, 380.0, -450.0], "rgb": [30, 160, 40]}}), "json")],
             fs_metadata={"bounding_box": {"x": [220, 520], "y": [230, 530], "z": [-500, -200]}})
    add_task(scan, FS_PCD, [("PointCloud", pointcloud_ply(rng, 6000, normals=True), "ply")])
    add_task(scan, FS_MESH, [("TriangleMesh", mesh_ply(rng), "ply")])
    add_task(scan, FS_SKEL, [("CurveSkeleton", jdump(skeleton_json(rng)), "json")])
    tree = {"nodes": list(range(18)), "edges": [[k, k + 1] for k in range(14)], "root": 0}
    add_task(scan, FS_TREE, [("TreeGraph", pickle.dumps(tree, protocol=4), "p")])
    add_task(scan, FS_ANGLES, [("AnglesAndInternodes", jdump(angles_json(rng)), "json")])
    (scan.path() / "measures.json").write_text(json.dumps(
        {"angles": [137.2, 140.1, 135.0, 139.9], "internodes": [12.1, 9.8, 14.0, 11.2]}, indent=4))
    (scan.path() / "pipeline.toml").write_text(PIPELINE_TOML)

    # 2. arabidopsis_B2: small images, workspace in the scan metadata, no colmap.
    md = miappe("plant-10", facility="Lyon indoor")
    md.update({"acquisition_date": "2024-03-05 11:30:00",
               "workspace": {"x": [200, 600], "y": [200, 600], "z": [-100, 300]}})
    scan = db.create_scan("arabidopsis_B2", metadata=md)
    add_images(rng, scan, [(f"{k:05d}_rgb", 96, 72, "jpg", "rgb") for k in range(12)])
    add_task(scan, FS_PCD, [("PointCloud", pointcloud_ply(rng, 3000, xyz="f8", colour=None), "ply")])
    add_task(scan, FS_SKEL, [("CurveSkeleton", jdump(skeleton_json(rng)), "json")])
    add_task(scan, FS_ANGLES, [("AnglesAndInternodes", jdump(angles_json(rng, 7)), "json")])

    # 3. virtual_plant: VirtualPlant, PNG/TIFF images, no acquisition_date.
    md = miappe("plant-11", species="Arabidopsis thaliana", facility="virtual greenhouse")
    scan = db.create_scan("virtual_plant", metadata=md)
    add_images(rng, scan, [("00000_rgb", 320, 240, "png", "rgb"),
                           ("00000_stem", 320, 240, "png-grey", "stem"),
                           ("00001_rgb", 300, 200, "tif16", "rgb")])
    add_task(scan, FS_VIRTUAL, [("VirtualPlant", jdump({"lpy": "plant.lpy", "seed": 3}), "json")])
    add_task(scan, FS_PCD, [("PointCloud", pointcloud_ply(rng, 2500, fmt="binary_big_endian", colour="f4"), "ply")])

    # 4. shared_scan: created by alice, shared with a group; images only.
    md = miappe("plant-12", species="Solanum lycopersicum", genus="Solanum", facility="Montpellier greenhouse")
    md.update({"acquisition_date": "2024-04-01 09:15:00", "sharing": ["phenotyping"],
               "ScanPath": {"class_name": "Line", "kwargs": {"n_points": 6}}})
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        db.logout()
        assert db.login("alice", PASSWORDS["alice"])
        scan = db.create_scan("shared_scan", metadata=md)
        add_images(rng, scan, [(f"{k:05d}_rgb", 640, 480, "jpg", "rgb") for k in range(6)])
        db.logout()
        assert db.login("admin", PASSWORDS["admin"])

    # 5. legacy_014_scan: 0.14 `object` keys; workspace from the images fileset metadata.
    md = {"acquisition_date": "2023-12-15 16:37:15",
          "object": {"species": "Arabidopsis thaliana", "plant_id": "legacy-7", "environment": "Lyon indoor",
                     "age": "6 weeks"}}
    scan = db.create_scan("legacy_014_scan", metadata=md)
    add_images(rng, scan, [(f"{k:05d}_rgb", 800, 600, "jpg", "rgb") for k in range(2)],
               fs_metadata={"workspace": {"x": [180, 580], "y": [190, 590], "z": [-120, 280]}})

    # 6. ground_truth_scan: PointCloudGroundTruth and SegmentedPointCloud.
    md = miappe("plant-3")
    md["acquisition_date"] = "2024-05-06 08:00:00"
    scan = db.create_scan("ground_truth_scan", metadata=md)
    add_images(rng, scan, [(f"{k:05d}_rgb", 400, 300, "jpg", "rgb") for k in range(2)])
    add_task(scan, FS_PCD, [("PointCloud", pointcloud_ply(rng, 2000), "ply")])
    add_task(scan, FS_GT, [("PointCloudGroundTruth", pointcloud_ply(rng, 2200), "ply")])
    add_task(scan, FS_SEG, [("SegmentedPointCloud", pointcloud_ply(rng, 1500), "ply")])

    # 7. A timelapse: scans created in reverse schedule order.
    tl = db.create_timelapse("tl_plant", metadata={"description": "Daily scans of plant-2", "interval": "P1D"})
    for day, sched, idx in (("d1", "2026-09-03T14:00:00Z", 1), ("d0", "2026-09-03T10:00:00Z", 0)):
        md = miappe("plant-2")
        md["acquisition_date"] = f"2026-09-03 {'14' if idx else '10'}:00:00"
        md["timelapse"] = {"scheduled": sched, "index": idx}
        scan = tl.create_scan(f"tl_plant_{day}", metadata=md)
        add_images(rng, scan, [(f"{k:05d}_rgb", 320, 240, "jpg", "rgb") for k in range(2)], colmap=True)
        if day == "d0":
            add_task(scan, FS_PCD, [("PointCloud", pointcloud_ply(rng, 800, fmt="ascii"), "ply")])

    # 8. The pipeline configs directory (skipped by plantdb's validation).
    (root / "configs").mkdir()
    (root / "configs" / "geom_pipe_real.toml").write_text(PIPELINE_TOML)

    if with_broken:
        scan = db.create_scan("broken_metadata", metadata={"acquisition_date": "2024-01-01 00:00:00"})
        add_images(rng, scan, [("00000_rgb", 64, 48, "jpg", "rgb")])
        (scan.path() / "metadata" / "metadata.json").write_text('{"acquisition_date": "2024-01-01 00:00:00",')
        scan = db.create_scan("iso_date_scan", metadata={"acquisition_date": "2024-03-04T10:00:00"})
        add_images(rng, scan, [("00000_rgb", 64, 48, "jpg", "rgb")])
        scan = db.create_scan("dangling_files", metadata={"acquisition_date": "2024-01-02 00:00:00"})
        add_images(rng, scan, [("00000_rgb", 64, 48, "jpg", "rgb"), ("00001_rgb", 64, 48, "jpg", "rgb")])
        fj = scan.path() / "files.json"
        files = json.loads(fj.read_text())
        for fs in files["filesets"]:
            if fs["id"] == FS_IMAGES:
                fs["files"].append({"file": "00002_rgb.jpg", "id": "00002_rgb"})  # missing on disk
                fs["files"].append({"file": None, "id": "00003_rgb"})  # interrupted upload
        fj.write_text(json.dumps(files, sort_keys=True, indent=4, separators=(",", ": ")))
        (root / "not_a_scan" / "metadata").mkdir(parents=True)
        (root / "not_a_scan" / "metadata" / "metadata.json").write_text("{}")

    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        db.logout()
        db.disconnect()
    with open(root / "passwords.json", "w") as f:
        json.dump(PASSWORDS, f, indent=2)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--with-broken", action="store_true", help="add the broken cases (Python refuses to start)")
    ap.add_argument("--force", action="store_true", help="wipe OUT first if it is not empty")
    args = ap.parse_args(argv)
    out = args.out
    if out.exists() and any(out.iterdir()):
        if not args.force:
            sys.exit(f"{out} is not empty (use --force to wipe it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    build(out.resolve(), args.with_broken)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    n_files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({n_files} files, {total / 1e6:.2f} MB){' with broken cases' if args.with_broken else ''}")


if __name__ == "__main__":
    main()

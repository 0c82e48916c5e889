#!/usr/bin/env python3
"""Add edge-case scans to a PlantDB database filled by `plantdb-auth demo DIR`, for the
viewer browser test (scripts/viewer/run.sh with PLANTDB_VIEWER_EDGE_CASES=1).

Each is a copy of the first demo scan (by name) with something taken away, the way real
databases differ from the demo; the viewer must still open every one of them:
  edge_no_metadata   no metadata/metadata.json (species etc. "N/A", date from ctime,
                     metadata.files.metadata has no file behind it)
  edge_images_only   only the `images` fileset: no Colmap poses (no colmap_camera in the
                     image metadata), no point cloud, mesh, skeleton, angles, no
                     pipeline.toml, no ScanPath (so no workspace)

Usage: edge_scans.py DB_DIR   (adds them; prints their ids)
       edge_scans.py --list     (prints their ids)
"""

import glob
import json
import os
import shutil
import sys


EDGE_IDS = ["edge_no_metadata", "edge_images_only"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=4)
        f.write("\n")


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(EDGE_IDS))
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    db = sys.argv[1]
    sources = sorted(d for d in os.listdir(db)
                     if os.path.isfile(os.path.join(db, d, "files.json")) and not d.startswith("edge_"))
    if not sources:
        print(f"edge_scans.py: no scan with a files.json in {db}", file=sys.stderr)
        return 1
    src = os.path.join(db, sources[0])

    # 1. no metadata.json
    dst = os.path.join(db, "edge_no_metadata")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("webcache"))
    meta = os.path.join(dst, "metadata", "metadata.json")
    if os.path.exists(meta):
        os.remove(meta)

    # 2. images only
    dst = os.path.join(db, "edge_images_only")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("webcache"))
    fj = load(os.path.join(dst, "files.json"))
    for fs in fj["filesets"]:
        if fs["id"] != "images":
            shutil.rmtree(os.path.join(dst, fs["id"]), ignore_errors=True)
            shutil.rmtree(os.path.join(dst, "metadata", fs["id"]), ignore_errors=True)
            fsmeta = os.path.join(dst, "metadata", fs["id"] + ".json")
            if os.path.exists(fsmeta):
                os.remove(fsmeta)
    fj["filesets"] = [fs for fs in fj["filesets"] if fs["id"] == "images"]
    save(os.path.join(dst, "files.json"), fj)
    for path in glob.glob(os.path.join(dst, "metadata", "images", "*.json")):
        m = load(path)
        m.pop("colmap_camera", None)
        save(path, m)
    for name in ("pipeline.toml", "measures.json"):
        if os.path.exists(os.path.join(dst, name)):
            os.remove(os.path.join(dst, name))
    meta = os.path.join(dst, "metadata", "metadata.json")
    if os.path.exists(meta):
        m = load(meta)
        m.pop("ScanPath", None)
        m.pop("workspace", None)
        save(meta, m)
    imeta = os.path.join(dst, "metadata", "images.json")
    if os.path.exists(imeta):
        m = load(imeta)
        m.pop("workspace", None)
        save(imeta, m)

    print("\n".join(EDGE_IDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

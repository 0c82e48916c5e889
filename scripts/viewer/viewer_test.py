#!/usr/bin/env python3
"""Drive the ROMI web viewer (plant-3d-explorer, branch update/new_plantdb) in
headless Chromium against a running plantdb-auth server and check that it works
with our data API.

Checks (each prints a PASS or FAIL line; the last line is "viewer: N passed, N failed"):
  landing page `/`:
    - every scan of GET /scans_info is listed (the item names equal the ids);
    - each item's thumbnail (a <div data-testid="thumbnail"> with a CSS background
      image: the scan's `thumbnailUri`) answers 200 and decodes (naturalWidth > 0);
    - the search box (plain text, sent as /scans_info?filterQuery=<text>) filters the
      list: case-insensitive substring of id, plant or species (data-api.md §13.1);
  scan page `/viewer/<id>` (every scan, or the first --max-scans):
    - the header shows `metadata.species` and `metadata.environment` of GET /scans/<id>;
    - `filesUri.pointCloud` and `filesUri.mesh` are fetched and answer 200, and the
      viewer parsed them (their layer buttons are enabled);
    - the 3D canvas exists and has a WebGL context;
    - every image of the carousel (files.json's "images" fileset, as the viewer
      builds the URIs) answers 200 with an image type, and the carousel canvas is drawn;
    - selecting the first photo and toggling the mesh / point-cloud layers changes
      the 3D canvas' pixels (they are really drawn);
    - the URIs of the scan document the browser does not fetch by itself
      (metadata.files.*, camera.poses[0].photoUri/thumbnailUri) answer 200;
  both pages: no uncaught script error (`pageerror`), no failed request, no HTTP
  error status and no console error, except the tolerated ones listed in TOLERATED.

Screenshots go to --screenshots DIR (default: a new temporary directory).
Exit status: 0 when everything passed, 1 on any failure, 2 on a usage/setup error.

Needs Playwright for Python (scripts/viewer/requirements.txt) and a Chromium
(Debian's `chromium` package); it never downloads a browser.
"""

import argparse
import base64
import json
import re
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Console errors and HTTP error statuses we tolerate, each with its reason. Only the
# exact URIs computed from the scan document are tolerated, never a whole route.
TOLERATED = """\
- 404 (and Chrome's console line "Failed to load resource: ... 404") on the scan
  document's filesUri.pcdGroundTruth when hasPcdGroundTruth is false, on its
  filesUri.pointCloud / filesUri.mesh when hasPointCloud / hasTriangleMesh is false, on its
  `skeleton` URI when hasCurveSkeleton is false, and on its `angles` URI when
  hasAnglesAndInternodes is false: the viewer fetches those unconditionally, so the
  server emits a URI of the same route that answers 404 and the viewer catches the
  failed fetch (data-api.md §13.2).
- requests the browser aborts itself (net::ERR_ABORTED) when it leaves a page."""

DEFAULT_CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"]


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        line = ("PASS: " if ok else "FAIL: ") + what
        if detail:
            line += " -- " + detail
        print(line, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def info(self, text):
        print("INFO: " + text, flush=True)


def http_get(url, timeout=30, read=True):
    """(status, content-type, body or None). Never raises for HTTP errors."""
    req = urllib.request.Request(url, headers={"Accept": "*/*"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read() if read else None
            return r.status, r.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", "") if e.headers else "", e.read() if read else None


def http_json(url):
    status, ctype, body = http_get(url)
    if status != 200:
        raise RuntimeError(f"GET {url} answered {status}: {body[:300]!r}")
    return json.loads(body)


def norm(url):
    """A URL reduced to path?query, percent-decoded, for comparisons."""
    p = urllib.parse.urlsplit(url)
    out = urllib.parse.unquote(p.path)
    if p.query:
        out += "?" + urllib.parse.unquote(p.query)
    return out


class Watch:
    """Everything one page reports: responses, failures, console errors, page errors."""

    def __init__(self, page, origin):
        self.origin = origin
        self.responses = []  # (normalised path, status, content-type, full url)
        self.failed = []  # (url, failure text)
        self.console_errors = []  # (text, location url)
        self.page_errors = []  # str
        self.foreign = []  # requests to other origins
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.page_errors.append(f"{e.name}: {e.message}\n{e.stack or ''}".strip()))
        page.on("request", self._on_request)

    def _on_request(self, req):
        u = req.url
        if not (u.startswith(self.origin) or u.startswith("data:") or u.startswith("blob:")):
            self.foreign.append(u)

    def _on_response(self, resp):
        try:
            ctype = resp.headers.get("content-type", "")
        except Exception:  # noqa: BLE001 - the page may be closing
            ctype = ""
        self.responses.append((norm(resp.url), resp.status, ctype, resp.url))

    def _on_failed(self, req):
        self.failed.append((req.url, req.failure or ""))

    def _on_console(self, msg):
        if msg.type == "error":
            loc = (msg.location or {}).get("url", "")
            self.console_errors.append((msg.text, loc))

    def find(self, uri):
        """Responses whose path?query equals the given root-relative URI."""
        want = norm(urllib.parse.urljoin(self.origin + "/", uri))
        return [r for r in self.responses if r[0] == want]

    def wait_for(self, page, uris, timeout_s):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if all(self.find(u) for u in uris):
                return True
            page.wait_for_timeout(200)
        return all(self.find(u) for u in uris)


def check_hygiene(rep, where, watch, tolerated_uris):
    """(c): page errors, console errors, HTTP errors, failed requests."""
    tol = {norm(urllib.parse.urljoin(watch.origin + "/", u)) for u in tolerated_uris if u}
    rep.check(not watch.page_errors, f"{where}: no uncaught script error",
              " | ".join(e.replace("\n", " / ")[:600] for e in watch.page_errors[:5]))
    bad_console = [(t, loc) for (t, loc) in watch.console_errors if not (loc and norm(loc) in tol)]
    rep.check(not bad_console, f"{where}: no console error (besides the tolerated ones)",
              " | ".join(f"{t[:300]} [{loc}]".replace("\n", " / ") for t, loc in bad_console[:8]))
    bad_http = [(p, s) for (p, s, _c, _u) in watch.responses if s >= 400 and p not in tol]
    rep.check(not bad_http, f"{where}: no HTTP error status on the viewer's requests",
              " | ".join(f"{s} {p}" for p, s in bad_http[:10]))
    bad_failed = [(u, f) for (u, f) in watch.failed if "ERR_ABORTED" not in f]
    rep.check(not bad_failed, f"{where}: no failed request", " | ".join(f"{u} ({f})" for u, f in bad_failed[:10]))
    if watch.foreign:
        rep.info(f"{where}: requests to other origins: {sorted(set(watch.foreign))[:5]}")
    tolerated_seen = sorted({p for (p, s, _c, _u) in watch.responses if s >= 400 and p in tol})
    for p in tolerated_seen:
        rep.info(f"{where}: tolerated error status on {p} (see the tolerated list)")


# --- pixel helpers: PNG decoding done by the browser itself (no Python imaging deps) ---

PIXEL_JS = """
async ([a, b]) => {
  const load = (s) => new Promise((res, rej) => {
    const i = new Image(); i.onload = () => res(i); i.onerror = () => rej(new Error('decode')); i.src = 'data:image/png;base64,' + s; });
  const data = async (s) => {
    const i = await load(s); const c = document.createElement('canvas'); c.width = i.width; c.height = i.height;
    const x = c.getContext('2d'); x.drawImage(i, 0, 0); return [x.getImageData(0, 0, c.width, c.height).data, c.width * c.height]; };
  const [da, n] = await data(a);
  // colours: count pixels far from the most common colour (the background)
  const counts = new Map();
  for (let k = 0; k < da.length; k += 4 * 7) { const key = (da[k] >> 4) << 8 | (da[k+1] >> 4) << 4 | (da[k+2] >> 4); counts.set(key, (counts.get(key) || 0) + 1); }
  let bg = 0, best = -1; for (const [key, c] of counts) if (c > best) { best = c; bg = key; }
  const br = ((bg >> 8) & 15) * 16 + 8, bgg = ((bg >> 4) & 15) * 16 + 8, bb = (bg & 15) * 16 + 8;
  let nonBg = 0;
  for (let k = 0; k < da.length; k += 4) if (Math.abs(da[k]-br) + Math.abs(da[k+1]-bgg) + Math.abs(da[k+2]-bb) > 60) nonBg++;
  let diff = null;
  if (b) { const [db, m] = await data(b); diff = 0; if (m !== n) diff = n; else for (let k = 0; k < da.length; k += 4)
      if (Math.abs(da[k]-db[k]) + Math.abs(da[k+1]-db[k+1]) + Math.abs(da[k+2]-db[k+2]) > 48) diff++; }
  return {pixels: n, nonBackground: nonBg, diff: diff};
}
"""


class Pixels:
    def __init__(self, ctx):
        self.page = ctx.new_page()
        self.page.set_content("<html><body>pixel helper</body></html>")

    def stats(self, png_a, png_b=None):
        a = base64.b64encode(png_a).decode()
        b = base64.b64encode(png_b).decode() if png_b is not None else None
        return self.page.evaluate(PIXEL_JS, [a, b])


# --- the checks ---

def check_landing(rep, ctx, base, scans, shots, timeout_ms, pixels):
    page = ctx.new_page()
    watch = Watch(page, base)
    ids = [s["id"] for s in scans]
    page.goto(base + "/", wait_until="networkidle", timeout=timeout_ms)
    try:
        page.wait_for_function(f"document.querySelectorAll('[data-testid=item]').length >= {len(ids)}",
                               timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - reported just below
        pass
    names = page.eval_on_selector_all(
        "[data-testid=item] [data-testid=name] > div:first-child", "els => els.map(e => e.textContent.trim())")
    rep.check(sorted(names) == sorted(ids), f"landing: lists every scan of /scans_info ({len(ids)})",
              "" if sorted(names) == sorted(ids) else
              f"page lists {sorted(names)}, /scans_info has {sorted(ids)}")

    # Thumbnails are <div data-testid="thumbnail"> with the thumbnailUri as a CSS background image.
    page.wait_for_load_state("networkidle")
    thumbs = page.evaluate("""async () => {
      const out = [];
      for (const item of document.querySelectorAll('[data-testid=item]')) {
        const name = item.querySelector('[data-testid=name] > div');
        const th = item.querySelector('[data-testid=thumbnail]');
        const bg = th ? getComputedStyle(th).backgroundImage : '';
        const m = /url\\(["']?(.*?)["']?\\)/.exec(bg || '');
        let w = 0, h = 0;
        if (m) { const i = new Image(); i.src = m[1];
          try { await i.decode(); } catch (e) {}
          w = i.naturalWidth; h = i.naturalHeight; }
        out.push({id: name ? name.textContent.trim() : null, bg: bg, src: m ? m[1] : null, w: w, h: h});
      }
      return out; }""")
    by_id = {t["id"]: t for t in thumbs}
    for s in scans:
        t = by_id.get(s["id"])
        want = s.get("thumbnailUri") or ""
        if t is None:
            rep.check(False, f"landing: thumbnail of {s['id']}", "no list item")
            continue
        if not want:
            rep.check(False, f"landing: thumbnail of {s['id']}", "the scan document has an empty thumbnailUri")
            continue
        resp = watch.find(want)
        status = resp[-1][1] if resp else None
        ctype = resp[-1][2] if resp else ""
        ok = bool(t["src"]) and norm(t["src"]) == norm(urllib.parse.urljoin(base + "/", want)) \
            and status == 200 and t["w"] > 0
        rep.check(ok, f"landing: thumbnail of {s['id']} loaded",
                  f"thumbnailUri={want} css={t['bg'][:120]} status={status} type={ctype} naturalWidth={t['w']}"
                  if not ok else f"{want} -> {status} {ctype}, {t['w']}x{t['h']}")

    page.screenshot(path=os.path.join(shots, "landing.png"), full_page=True)

    # Search box: plain text; expected list per data-api.md §13.1.
    if ids:
        # A species in other case (tests case-insensitivity and the species field), else an id.
        species = [str(s["metadata"].get("species")) for s in scans
                   if s["metadata"].get("species") not in (None, "N/A")]
        query = species[-1].split()[0].upper() if species else ids[0]
        low = query.lower()
        expected = sorted(s["id"] for s in scans if any(
            low in str(v).lower() for v in (s["id"], s["metadata"].get("plant"), s["metadata"].get("species"))))
        box = page.locator("input[placeholder]").first
        box.fill(query)
        with page.expect_response(lambda r: "/scans_info?filterQuery=" in r.url, timeout=timeout_ms) as ri:
            box.press("Enter")
        r = ri.value
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        names = page.eval_on_selector_all(
            "[data-testid=item] [data-testid=name] > div:first-child", "els => els.map(e => e.textContent.trim())")
        ok = r.status == 200 and sorted(names) == expected
        rep.check(ok, f"landing: search box filters the list ({query!r})",
                  f"GET {norm(r.url)} -> {r.status}; page lists {sorted(names)}, expected {expected}")
    check_hygiene(rep, "landing", watch, [])
    page.close()


def shape_problems(doc):
    """What the viewer (update/new_plantdb) dereferences without a guard on the scan page:
    a value of the wrong type there blanks the page. Read from its bundle:
    chunk 1 `U` (metadata.files.*: getFullURI(x) calls x.startsWith), `C`/`F`
    (camera.poses[].photoUri/rotmat/tvec), `q` (filesUri.mesh/pointCloud/pcdGroundTruth,
    skeleton, angles), chunk 6 setWorkSpace (workspace.x/y/z[0..1] when truthy)."""
    out = []

    def is_str(v):
        return isinstance(v, str)

    meta = doc.get("metadata")
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, dict):
        out.append(f"metadata.files is {files!r}, not an object")
    else:
        for k in ("archive", "metadata"):
            if not is_str(files.get(k)):
                out.append(f"metadata.files.{k} is {files.get(k)!r}: must be a string "
                           "(getFullURI(null) throws in the scan page's document pipeline)")
    fu = doc.get("filesUri")
    if not isinstance(fu, dict):
        out.append(f"filesUri is {fu!r}, not an object")
    else:
        for k in ("mesh", "pointCloud", "pcdGroundTruth"):
            if not is_str(fu.get(k)):
                out.append(f"filesUri.{k} is {fu.get(k)!r}: must be a string (data-api.md §13.2)")
    for k in ("skeleton", "angles"):
        if not is_str(doc.get(k)):
            out.append(f"top-level {k} is {doc.get(k)!r}: must be a string (data-api.md §13.2)")
    cam = doc.get("camera")
    poses = cam.get("poses") if isinstance(cam, dict) else None
    if not isinstance(poses, list):
        out.append(f"camera.poses is {poses!r}: must be an array (the viewer maps it unguarded)")
    else:
        for i, q in enumerate(poses):
            bad = []
            if not isinstance(q, dict) or not is_str(q.get("photoUri")):
                bad.append("photoUri")
            if not isinstance(q, dict) or not (isinstance(q.get("tvec"), list) and len(q["tvec"]) == 3):
                bad.append("tvec[3]")
            if not isinstance(q, dict) or not (isinstance(q.get("rotmat"), list) and len(q["rotmat"]) == 3
                                               and all(isinstance(r, list) and len(r) == 3 for r in q["rotmat"])):
                bad.append("rotmat[3][3]")
            if bad:
                out.append(f"camera.poses[{i}] lacks a valid {', '.join(bad)}")
                break
        if poses and not (isinstance(cam.get("model"), dict) and isinstance(cam["model"].get("params"), list)
                          and len(cam["model"]["params"]) >= 4):
            out.append("camera.model.params is missing or shorter than 4 (used for the photo overlay's FOV)")
    ws = doc.get("workspace")
    if ws:
        if not (isinstance(ws, dict) and all(isinstance(ws.get(a), list) and len(ws[a]) == 2 for a in "xyz")):
            out.append(f"workspace is {ws!r}: when truthy it must have x, y, z as [min, max]")
    return out


def check_scan(rep, ctx, base, scan_id, shots, timeout_ms, pixels):
    where = f"scan {scan_id}"
    doc = http_json(f"{base}/scans/{urllib.parse.quote(scan_id)}")
    problems = shape_problems(doc)
    rep.check(not problems, f"{where}: /scans/<id> has the shape the viewer needs", "; ".join(problems))
    files_uri = doc.get("filesUri") or {}
    meta = doc.get("metadata") or {}
    page = ctx.new_page()
    watch = Watch(page, base)
    page.goto(f"{base}/viewer/{urllib.parse.quote(scan_id)}", wait_until="networkidle", timeout=timeout_ms)

    # (b1) species and environment in the page text. The header (SPECIES ...) appears once
    # the scan document is in; an uncaught error unmounts the whole React tree instead.
    deadline = time.time() + timeout_ms / 1000
    text = ""
    want_text = [str(meta.get(k)) for k in ("species", "environment") if meta.get(k) is not None]
    while time.time() < deadline:
        text = page.inner_text("body")
        if ("species" in text.lower() and all(w in text for w in want_text)) or watch.page_errors or any(
                re.match(r"\w*Error\b", t) for t, _ in watch.console_errors):
            break
        page.wait_for_timeout(250)
    rendered = "species" in text.lower()
    rep.check(rendered, f"{where}: the scan page renders",
              "" if rendered else f"page text {text[:200]!r}; uncaught errors: {len(watch.page_errors)}")
    if not rendered:
        page.screenshot(path=os.path.join(shots, f"scan-{scan_id}.png"))
        check_hygiene(rep, where, watch, [])
        page.close()
        return
    for key in ("species", "environment"):
        val = meta.get(key)
        ok = val is not None and str(val) in text
        rep.check(ok, f"{where}: page shows metadata.{key} ({val!r})",
                  "" if ok else f"page text starts: {text[:300]!r}")

    # (b2) point cloud and mesh fetched with 200 and parsed (layer button enabled)
    # A scan without them (has* false) still gets a URI the viewer fetches; it answers 404 (§13.2).
    flags = {"pointCloud": "hasPointCloud", "mesh": "hasTriangleMesh"}
    wanted = {k: files_uri.get(k) for k in flags if doc.get(flags[k])}
    for k in flags:
        if not doc.get(flags[k]):
            rep.info(f"{where}: {flags[k]} is false: no {k} to show (filesUri.{k} = {files_uri.get(k)!r})")
    present = [u for u in wanted.values() if u]
    watch.wait_for(page, present, timeout_ms / 1000)
    icons = {"pointCloud": "ico.point_cloud.", "mesh": "ico.mesh."}
    for key, uri in wanted.items():
        if not uri:
            rep.check(False, f"{where}: filesUri.{key} fetched", f"{flags[key]} is true but the scan document "
                      f"has no filesUri.{key}")
            continue
        resp = watch.find(uri)
        ok = bool(resp) and resp[-1][1] == 200
        rep.check(ok, f"{where}: filesUri.{key} fetched with 200",
                  f"{uri} -> {resp[-1][1]} {resp[-1][2]}" if resp else f"{uri} never requested")
        btn = page.locator(f'[data-testid=interactor]:has(img[src*="{icons[key]}"])').first
        enabled = False
        deadline = time.time() + timeout_ms / 1000
        while time.time() < deadline:
            enabled = btn.count() > 0 and btn.evaluate("e => getComputedStyle(e).cursor") != "not-allowed"
            if enabled:
                break
            page.wait_for_timeout(250)
        rep.check(enabled, f"{where}: viewer parsed the {key} (its layer button is enabled)",
                  "" if enabled else "layer button still disabled: the viewer could not fetch or parse the file")

    # (b3) the 3D canvas (the largest canvas, with a WebGL context)
    canvas_info = page.evaluate("""() => {
      const cs = [...document.querySelectorAll('canvas')].sort((a, b) => b.width * b.height - a.width * a.height);
      if (!cs.length) return null;
      const c = cs[0]; c.setAttribute('data-viewer-test', '3d');
      const gl = c.getContext('webgl2') || c.getContext('webgl');
      if (cs[1]) cs[1].setAttribute('data-viewer-test', 'carousel');
      return {w: c.width, h: c.height, webgl: !!gl, count: cs.length}; }""")
    ok = bool(canvas_info) and canvas_info["webgl"] and canvas_info["w"] > 0
    rep.check(ok, f"{where}: 3D canvas exists with a WebGL context", json.dumps(canvas_info))

    # (b4) carousel images, as the viewer builds them from files.json
    fj = http_json(f"{base}/files/{urllib.parse.quote(scan_id)}/files.json")
    fs = next((f for f in fj.get("filesets", []) if "images" in f.get("id", "").lower()), None)
    if fs is None:
        rep.check(False, f"{where}: carousel images", "files.json has no fileset whose id contains 'images'")
    else:
        uris = [f"/files/{scan_id}/{fs['id']}/{f['file']}" for f in fs.get("files", [])]
        watch.wait_for(page, uris, timeout_ms / 1000)
        bad = []
        for u in uris:
            resp = watch.find(u)
            if not resp:
                bad.append(f"{u} never requested")
            elif resp[-1][1] != 200 or not resp[-1][2].startswith("image/"):
                bad.append(f"{u} -> {resp[-1][1]} {resp[-1][2]}")
        rep.check(not bad and uris, f"{where}: carousel images fetched ({len(uris)}, 200, image/*)", "; ".join(bad[:6]))
    poses = (doc.get("camera") or {}).get("poses") or []
    if not poses:
        rep.info(f"{where}: camera.poses is empty: the viewer's carousel has no item (it pairs each pose with "
                 "an image), so the photo and layer-drawing checks are skipped")
    else:
        unmatched = sum(1 for q in poses if not q.get("isMatched"))
        if unmatched:
            rep.info(f"{where}: {unmatched} of {len(poses)} poses lack isMatched: true (the carousel tints "
                     "those photos red, as 'not matched by Colmap')")
        drawn = -1
        deadline = time.time() + timeout_ms / 1000
        while time.time() < deadline:
            drawn = page.evaluate("""() => {
              const c = document.querySelector('canvas[data-viewer-test=carousel]'); if (!c) return -1;
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
              // photos, not the grey placeholders drawn for images not loaded (coloured pixels)
              for (let k = 0; k < d.length; k += 4) if (d[k+3] > 0 &&
                  Math.max(d[k], d[k+1], d[k+2]) - Math.min(d[k], d[k+1], d[k+2]) > 8) n++;
              return n / (c.width * c.height); }""")
            if drawn > 0.3:
                break
            page.wait_for_timeout(250)
        rep.check(drawn > 0.3, f"{where}: carousel canvas shows the photos",
                  f"coloured fraction of the carousel: {drawn:.2f}")

    page.screenshot(path=os.path.join(shots, f"scan-{scan_id}.png"))

    # (b5) select the first photo, show mesh and point cloud: the layers really draw.
    canvas3d = page.locator("canvas[data-viewer-test='3d']")
    carousel = page.locator("canvas[data-viewer-test=carousel]")
    if canvas_info and carousel.count() and fs is not None and fs.get("files") and poses:
        box = carousel.bounding_box()
        n = len(fs["files"])
        x, y = box["x"] + box["width"] / (2 * n), box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        page.wait_for_timeout(1500)
        page.mouse.move(box["x"] + box["width"] / 2, 5)  # leave hover effects
        selected = page.get_by_text("close", exact=False).count() > 0
        rep.check(selected, f"{where}: selecting the first photo of the carousel")

        def layer(icon):
            return page.locator(f'[data-testid=interactor]:has(img[src*="{icon}"])').first

        def shot():
            page.wait_for_timeout(800)
            return canvas3d.screenshot()

        base_png = shot()
        for key in ("mesh", "pointCloud"):
            if not wanted.get(key):
                continue
            layer(icons[key]).click()
            on_png = shot()
            st = pixels.stats(on_png, base_png)
            frac = st["diff"] / max(1, st["pixels"])
            rep.check(frac > 0.002, f"{where}: the {key} layer draws in the 3D view",
                      f"{st['diff']} of {st['pixels']} pixels change when it is switched on ({frac:.3%})")
            base_png = on_png
        page.mouse.move(box["x"] + box["width"] / 2, 5)  # no tooltip in the screenshot
        page.wait_for_timeout(300)
        page.screenshot(path=os.path.join(shots, f"scan-{scan_id}-photo.png"))
        st = pixels.stats(base_png)
        rep.info(f"{where}: 3D view with photo, mesh and point cloud: "
                 f"{st['nonBackground'] / max(1, st['pixels']):.0%} of pixels differ from the background")

    # (b6) the scan document's other URIs (not fetched by the browser on its own)
    extra = {"metadata.files.metadata": (meta.get("files") or {}).get("metadata"),
             "metadata.files.archive": (meta.get("files") or {}).get("archive")}
    if poses:
        extra["camera.poses[0].photoUri"] = poses[0].get("photoUri")
        extra["camera.poses[0].thumbnailUri"] = poses[0].get("thumbnailUri")
    for key, uri in extra.items():
        if not isinstance(uri, str) or not uri:
            continue  # reported by the shape check
        status, ctype, _ = http_get(urllib.parse.urljoin(base + "/", uri), read=key != "metadata.files.archive")
        if key == "metadata.files.metadata" and status == 404:
            # Only the href of the "Show metadata" link: a scan without metadata.json may point at
            # a URI that answers 404 (like §13.2's URIs), as long as it is a string.
            rep.info(f"{where}: {key} {uri} answers 404 (the scan has no metadata.json?); tolerated: "
                     "the viewer only uses it as a link")
            continue
        want_type = "image/" if "Uri" in key else ""
        ok = status == 200 and ctype.startswith(want_type)
        rep.check(ok, f"{where}: {key} answers 200", f"{uri} -> {status} {ctype}")

    tolerated = [files_uri.get(k) for k in flags if not doc.get(flags[k])]
    if not doc.get("hasPcdGroundTruth"):
        tolerated.append(files_uri.get("pcdGroundTruth"))
    if not doc.get("hasCurveSkeleton"):
        tolerated.append(doc.get("skeleton"))
    if not doc.get("hasAnglesAndInternodes"):
        tolerated.append(doc.get("angles"))
    check_hygiene(rep, where, watch, tolerated)
    page.close()


def find_chromium(explicit):
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for c in DEFAULT_CHROMIUM:
        if os.access(c, os.X_OK):
            return c
    return shutil.which("chromium")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TOLERATED)
    ap.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--expect-scans", type=int, help="fail unless /scans_info lists exactly N scans")
    ap.add_argument("--screenshots", help="directory for screenshots (default: a new temporary directory)")
    ap.add_argument("--max-scans", type=int, default=0, help="open at most N scan pages (default: all)")
    ap.add_argument("--scans", help="comma-separated ids: open only these scan pages (the landing page "
                    "still checks every scan)")
    ap.add_argument("--chromium", default=os.environ.get("PLANTDB_CHROMIUM"),
                    help="Chromium executable (default: $PLANTDB_CHROMIUM or /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds allowed per wait (default 30)")
    args = ap.parse_args()

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("viewer_test.py: Playwright for Python is missing "
              "(pip install -r scripts/viewer/requirements.txt)", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if not chromium:
        print("viewer_test.py: no Chromium found (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 2

    base = args.url.rstrip("/")
    shots = args.screenshots or tempfile.mkdtemp(prefix="viewer-shots-")
    os.makedirs(shots, exist_ok=True)
    timeout_ms = args.timeout * 1000
    rep = Report()
    started = time.time()

    try:
        scans = http_json(base + "/scans_info")
    except Exception as e:  # noqa: BLE001
        rep.check(False, "GET /scans_info", f"{type(e).__name__}: {e}")
        print(f"viewer: {rep.passed} passed, {rep.failed} failed", flush=True)
        return 1
    if args.expect_scans is not None:
        rep.check(len(scans) == args.expect_scans, f"/scans_info lists {args.expect_scans} scans",
                  f"it lists {len(scans)}: {[s.get('id') for s in scans]}")
    rep.check(len(scans) > 0, "/scans_info is not empty", f"{len(scans)} scans")
    # The list page maps every item through getFullURI(thumbnailUri) (chunk 1 `P`): a non-string blanks it.
    bad_thumb = [f"{s.get('id')}: {s.get('thumbnailUri')!r}" for s in scans if not isinstance(s.get("thumbnailUri"), str)]
    rep.check(not bad_thumb, "every /scans_info item has a string thumbnailUri", "; ".join(bad_thumb[:5]))
    degraded = [s["id"] for s in scans if s.get("error")]
    rep.check(not degraded, "no scan document is degraded (error: true)", ", ".join(degraded))

    profile = tempfile.mkdtemp(prefix="viewer-chromium-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 900}, service_workers="block")
            ctx.set_default_timeout(timeout_ms)
            rep.info(f"browser {chromium} {ctx.browser.version if ctx.browser else ''}".rstrip())
            pixels = Pixels(ctx)
            try:
                check_landing(rep, ctx, base, scans, shots, timeout_ms, pixels)
            except Exception as e:  # noqa: BLE001 - report and go on
                rep.check(False, "landing page", f"{type(e).__name__}: {e}")
            ids = [s["id"] for s in scans if not s.get("error")]
            if args.scans:
                only = [i for i in args.scans.split(",") if i]
                missing = [i for i in only if i not in ids]
                rep.check(not missing, f"/scans_info lists the scans asked for ({', '.join(only)})",
                          f"missing or degraded: {missing}")
                ids = [i for i in ids if i in only]
            if args.max_scans:
                ids = ids[: args.max_scans]
            for sid in ids:
                try:
                    check_scan(rep, ctx, base, sid, shots, timeout_ms, pixels)
                except Exception as e:  # noqa: BLE001
                    rep.check(False, f"scan {sid}", f"{type(e).__name__}: {e}")
            ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    rep.info(f"screenshots in {shots}; took {time.time() - started:.1f} s")
    print(f"viewer: {rep.passed} passed, {rep.failed} failed", flush=True)
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

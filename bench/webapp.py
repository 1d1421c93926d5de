"""The web app's dataset page (#/d/<name>) on a dataset of 100,000 image objects, in Chromium
against a real `gonk-api serve` (SQLite and files, 2 workers): how long until its first
thumbnails show (the issue's target: within 1 second). Tests never assert on time; this only
prints.

    python bench/webapp.py                       # 100,000 PNGs of 64 x 48 (building: ~10 min)
    python bench/webapp.py --objects 5000 --runs 3
    python bench/webapp.py --keep /tmp/gonk-webapp   # builds there once; the same line again
        # measures again without building

Building: `gonk-api init`, the dataset created over HTTP, N distinct PNGs (64 x 48, a colour
and one pixel from the index) written to a folder and loaded with `gonk-api import` run locally
on the data directory (every object through the rules and the hash chain, one write each).

Measuring: Debian's Chromium (Playwright, headless, 1280 x 800), a fresh browser context for
every run (so nothing comes from the browser's HTTP cache: thumbnails are `immutable`), signed
in as a person does (the key typed into the form). Two ways to reach the page:
  in-app: from the datasets page, `location.hash = "#/d/<name>"` (the app already loaded);
  load:   a new document at <base>/#/d/<name> (the tab's key is in sessionStorage), HTML and
          modules included.
Each against a cold thumbnail cache (<data dir>/thumbnails, or GONK_THUMBNAIL_CACHE, deleted
before the run, the server left running) and a warm one (the same thumbnails made before).

Clock: the browser's own, `performance.now()`. t0 is taken just before setting the hash (in-app)
or is the navigation's start (load: 0). A capture listener for `load`, installed in every
document before the app runs (Page.addScriptToEvaluateOnNewDocument, so the app's
Content-Security-Policy does not apply to it), records when each `.grid .tile .thumb img` has
loaded; the run ends when --first of them have and every tile in the viewport shows its
thumbnail (the "screen" figure; the images are then checked complete, with naturalWidth > 0).
The object list's first page (GET /objects?limit=100), the per-tile metadata requests
(GET /objects/<uuid>/<version>?bytes=false) and the thumbnails (GET .../thumbnail) are read from
Resource Timing (responseEnd, relative to t0), to see where the time goes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support import processes  # noqa: E402

DATASET = "big"
USER = "bench"
CHROMIUM = os.environ.get("GONK_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT = 120.0  # seconds a run may take before it is reported as not finished

# Installed in every document before its own scripts: when each thumbnail <img> has loaded.
RECORDER = """
window.__bench = { loads: [] };
document.addEventListener("load", (event) => {
  const target = event.target;
  if (target instanceof HTMLImageElement && target.closest(".grid .tile .thumb")) {
    target.__loadedAt = performance.now();
    window.__bench.loads.push(target.__loadedAt);
  }
}, true);
"""

# Called (through CDP, not eval) right before an in-app navigation; returns t0.
NAVIGATE = """(hash) => {
  window.__bench.loads = [];
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(100000);
  const t0 = performance.now();
  location.hash = hash;
  return t0;
}"""

# Thumbnails loaded so far; the tiles in the viewport, and when the last of their thumbnails
# loaded (null while one is missing).
SCREEN = """const inView = [...document.querySelectorAll(".grid .tile")].filter((tile) => {
    const r = tile.getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight && r.right > 0 && r.left < window.innerWidth;
  });
  const times = inView.map((tile) => {
    const img = tile.querySelector(".thumb img");
    return img && img.__loadedAt !== undefined ? img.__loadedAt : null; });
  const screen = inView.length > 0 && !times.includes(null) ? Math.max(...times) : null;"""

LOADED = f"""() => {{
  if (!window.__bench) return [0, null];
  {SCREEN}
  return [window.__bench.loads.length, screen];
}}"""

# What the run found: load times, images complete, and the API requests' timings.
COLLECT = f"""() => {{
  const imgs = [...document.querySelectorAll(".grid .tile .thumb img")];
  {SCREEN}
  const resources = performance.getEntriesByType("resource").map((e) => ({{
    name: e.name, start: e.startTime, end: e.responseEnd }}));
  return {{ loads: window.__bench.loads, complete: imgs.filter(
    (i) => i.complete && i.naturalWidth > 0).length, inView: inView.length, screen, resources }};
}}"""


def png(n: int, width: int, height: int) -> bytes:
    """A small PNG that no other index gives: its colour and one pixel come from `n`."""
    picture = Image.new("RGB", (width, height), (n % 251, (n // 251) % 251, (n * 7) % 256))
    picture.putpixel((n % width, (n // width) % height), (255 - n % 256, (n >> 8) % 256, 128))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def build(workdir: Path, objects: int, width: int, height: int) -> str:
    """An installation in workdir/gonk-data with DATASET holding `objects` PNGs; its key."""
    data_dir = workdir / "gonk-data"
    done = processes.run_cli("init", "--username", USER, data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    key = processes.last_line(done.stdout)
    server = processes.start_server(data_dir, key, "serve", ["--workers", "1",
                                                             "--access-log", ""])
    try:
        made = requests.post(f"{server.base}/datasets", json={"name": DATASET},
                             headers={"x-api-key": key}, timeout=30)
        assert made.status_code == 200, made.text
    finally:
        server.stop()

    files = workdir / "files"
    files.mkdir(exist_ok=True)
    started = time.perf_counter()
    for n in range(objects):
        (files / f"img-{n:06d}.png").write_bytes(png(n, width, height))
    written = time.perf_counter() - started
    print(f"built: {objects} PNGs of {width} x {height} written in {written:.1f} s", flush=True)

    started = time.perf_counter()
    done = processes.run_cli("import", DATASET, files, "--user", USER, data_dir=data_dir,
                             timeout=6 * 3600)
    imported = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"built: gonk-api import of {objects} files in {imported:.1f} s "
          f"({objects / imported:.0f} objects/s): {processes.last_line(done.stdout)}", flush=True)
    shutil.rmtree(files)
    (workdir / "built.json").write_text(json.dumps({"objects": objects, "key": key,
                                                    "width": width, "height": height}))
    return key


@dataclass
class Run:
    list_page: float  # ms from t0 to the end of GET /objects?limit=100
    first: float  # ms from t0 to the first thumbnail loaded
    nth: float  # ms from t0 to the --first'th thumbnail loaded
    screen: float  # ms from t0 to every tile in the viewport showing its thumbnail
    first_meta: float | None  # ms to the first metadata response (None: the app made none)
    first_thumb: float  # ms to the first thumbnail response
    metas: int  # metadata responses done by `nth`
    thumbs: int  # thumbnail responses done by `nth`
    meta_ms: float | None  # median duration of a metadata request
    thumb_ms: float  # median duration of a thumbnail request
    in_view: int  # tiles in the viewport at the end


@dataclass
class Series:
    label: str
    runs: list[Run] = field(default_factory=list)


def measure(browser: Any, base: str, key: str, mode: str, first: int) -> Run:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.add_init_script(script=RECORDER)
        page.goto(f"{base}/")
        page.fill("#key", key)
        page.click("button[type=submit]")
        page.wait_for_selector("#signout:not([hidden])")
        page.wait_for_load_state("networkidle")
        if mode == "in-app":
            t0 = float(page.evaluate(NAVIGATE, f"#/d/{DATASET}"))
        else:
            page.goto("about:blank")
            page.goto(f"{base}/#/d/{DATASET}", wait_until="commit")
            t0 = 0.0
        deadline = time.monotonic() + TIMEOUT
        while True:
            count, screen = page.evaluate(LOADED)
            if count >= first and screen is not None:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{mode}: fewer than {first} thumbnails within {TIMEOUT:.0f} s")
            time.sleep(0.05)  # the times come from the page's listener, not from this poll
        found = page.evaluate(COLLECT)
    finally:
        context.close()
    loads = sorted(found["loads"])
    assert found["complete"] >= first, found["complete"]
    nth = loads[first - 1]
    objects = f"/datasets/{DATASET}/objects"
    lists = [r for r in found["resources"]
             if f"{objects}?" in r["name"] and "limit=100" in r["name"]]
    metas = [r for r in found["resources"] if "bytes=false" in r["name"]]
    thumbs = [r for r in found["resources"] if "/thumbnail" in r["name"]]
    assert lists and thumbs, found["resources"][:5]
    return Run(
        list_page=min(r["end"] for r in lists) - t0, first=loads[0] - t0, nth=nth - t0,
        screen=float(found["screen"]) - t0,
        first_meta=min(r["end"] for r in metas) - t0 if metas else None,
        first_thumb=min(r["end"] for r in thumbs) - t0,
        metas=sum(r["end"] <= nth for r in metas), thumbs=sum(r["end"] <= nth for r in thumbs),
        meta_ms=statistics.median(r["end"] - r["start"] for r in metas) if metas else None,
        thumb_ms=statistics.median(r["end"] - r["start"] for r in thumbs),
        in_view=found["inView"])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind")
    parser.add_argument("--first", type=int, default=24,
                        help="thumbnails counted as the first screenful (1280 x 800: 24)")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--height", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the installation in this folder; reuse it when built there")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="gonk-webapp-")
        workdir = Path(tmp.name)
    else:
        workdir = args.keep.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        marker = workdir / "built.json"
        if marker.exists():
            built = json.loads(marker.read_text())
            if built["objects"] != args.objects:
                raise SystemExit(f"{workdir} holds {built['objects']} objects, not "
                                 f"{args.objects}: pass --objects {built['objects']} or "
                                 "another --keep folder")
            key = built["key"]
            print(f"reusing {workdir} ({built['objects']} objects)")
        elif (workdir / "gonk-data").exists():
            raise SystemExit(f"{workdir} has an unfinished build: remove it first")
        else:
            key = build(workdir, args.objects, args.width, args.height)
        data_dir = workdir / "gonk-data"
        configured = os.environ.get("GONK_THUMBNAIL_CACHE")
        cache = Path(configured).expanduser() if configured else data_dir / "thumbnails"
        shutil.rmtree(cache, ignore_errors=True)

        server = processes.start_server(data_dir, key, "serve",
                                        ["--workers", str(args.workers), "--access-log", ""])
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                try:
                    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python "
                          f"{platform.python_version()}, Chromium {browser.version}; "
                          f"gonk-api serve --workers {args.workers}, SQLite + files; "
                          f"{args.objects} objects; viewport {VIEWPORT['width']} x "
                          f"{VIEWPORT['height']}; {args.runs} runs each", flush=True)
                    series = run_all(browser, server.base, key, cache, args.runs, args.first)
                finally:
                    browser.close()
        finally:
            server.stop()
        report(series, args.first)
    finally:
        if tmp is not None:
            tmp.cleanup()


def run_all(browser: Any, base: str, key: str, cache: Path, runs: int,
            first: int) -> list[Series]:
    kinds = [("in-app", True), ("load", True), ("in-app", False), ("load", False)]
    series = {kind: Series(f"{kind[0]}, {'cold' if kind[1] else 'warm'} cache") for kind in kinds}
    # cold first (the first run right after the server's start), then warm: the same first
    # screen of thumbnails, now in the cache
    for kind in kinds:
        mode, cold = kind
        for _ in range(runs):
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
            series[kind].runs.append(measure(browser, base, key, mode, first))
    return list(series.values())


def report(series: list[Series], first: int) -> None:
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):6.0f} {max(values):6.0f}"

    print()
    print("ms from navigation (t0), median and max over runs:")
    in_view = statistics.median(r.in_view for s in series for r in s.runs)
    heads = ["object list", "1st thumbnail", f"{first} thumbnails", f"screen ({in_view:.0f})"]
    print(f"{'':24} " + "  ".join(f"{head:>13}" for head in heads))
    print(f"{'':24} " + "  ".join(f"{'median    max':>13}" for _ in heads))
    for s in series:
        print(f"{s.label:24} {cell([r.list_page for r in s.runs])}  "
              f"{cell([r.first for r in s.runs])}  {cell([r.nth for r in s.runs])}  "
              f"{cell([r.screen for r in s.runs])}")
    print(f"(screen: every tile in the viewport showing its thumbnail; {in_view:.0f} tiles "
          "in view)")
    print()
    print("where the time goes (medians over runs): responses done by the "
          f"{first}th thumbnail, first metadata/thumbnail response (ms from t0), "
          "one request's duration (ms)")
    def med(values: list[float | None], digits: int = 0) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.median(known):.{digits}f}" if known else "-"

    for s in series:
        print(f"{s.label:24} metadata {med([r.metas for r in s.runs]):>4}  "
              f"thumbnails {med([r.thumbs for r in s.runs]):>4}  "
              f"first metadata {med([r.first_meta for r in s.runs]):>5}  "
              f"first thumbnail {med([r.first_thumb for r in s.runs]):>5}  "
              f"metadata request {med([r.meta_ms for r in s.runs], 1):>5}  "
              f"thumbnail request {med([r.thumb_ms for r in s.runs], 1):>5}")


if __name__ == "__main__":
    main()

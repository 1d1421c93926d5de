"""Label-format exports on a large release, against a real `gonk-api serve`; prints figures for
issue 13's targets. Tests never assert on time; this script only prints.

    python bench/label_export.py             # 100,000 images, 300,000 boxes (~1.6 GB of images)
    python bench/label_export.py --quick     # 10,000 images, 30,000 boxes
    python bench/label_export.py --workdir /tmp/lx   # keep the installation; run again to
                                                     # measure again without building
    python bench/label_export.py --datumaro /path/to/venv/bin/datum   # also time Datumaro

The dataset is built in this process before the server starts, as bench/releases.py builds
its own: the service layer's DatasetLog appends (rules, hash chain, projection), many events
per write transaction, blob files written at the store's paths without an fsync each. Images
are real JPEG and PNG files of 20 sizes from 320x240 to 1920x1080 (Pillow), each followed by
random padding (which image readers ignore) so that every object has its own bytes: 4 to 28
KiB, 16 KiB on average. Each image has one detection annotation of three boxes inside it,
labels from a ten-class enum. Then:

  1. GET .../releases/r/export?format=coco (no files): seconds to the last byte (target
     <= 60 s), the time to the first byte, and the worker's memory growth (target < 200 MiB);
  2. GET .../export?format=coco&files=true: MiB/s over the whole archive (target >= 100 MiB/s)
     and the worker's memory growth (target < 200 MiB);
  3. `gonk-api export --format coco --no-files` locally: seconds and the process's peak RSS;
  4. with --datumaro: the same release exported as Pascal VOC without files by Gonk (its XML
     files carry each image's size, so Datumaro reads no image), then converted to COCO by
     `datum convert -if voc -f coco_instances` (Datumaro's own CLI, same machine, same run),
     against step 3's time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from releases import (  # bench/releases.py, beside this script
    GONK,
    BlobWriter,
    MemoryWatch,
    Server,
    analyze,
    machine,
    postgres_database,
)

DATASET = "labels-bench"
USER = "bench"
CLASSES = ["person", "car", "bicycle", "dog", "cat", "bird", "boat", "bus", "train", "truck"]
SIZES = [(320 + 80 * i, 240 + 42 * i) for i in range(20)]  # up to 1840x1038
CHUNK = 1000
PEAK_RSS = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=2); "
            "_, s, u = os.wait4(p.pid, 0); print(u.ru_maxrss); sys.exit(os.waitstatus_to_exitcode(s))")


def base_images() -> list[tuple[bytes, int, int]]:
    from PIL import Image, ImageDraw

    made = []
    for i, (width, height) in enumerate(SIZES):
        image = Image.new("RGB", (width, height), (i * 12, 100, 200 - i * 9))
        ImageDraw.Draw(image).ellipse([10, 10, width // 2, height // 2], fill=(250, 240, 30))
        out = io.BytesIO()
        image.save(out, "JPEG" if i % 2 else "PNG", quality=60)
        made.append((out.getvalue(), width, height))
    return made


def build(data_dir: Path, database_url: str | None, total: int, seed: int = 13) -> None:
    from gonk import releases, service
    from gonk.domain import events as ev
    from gonk.domain import content, label_kinds
    from gonk.installation import Installation
    from gonk.storage.log import DatasetLog

    rng = random.Random(seed)
    installation = Installation.open(data_dir, database_url)
    blobs = BlobWriter(installation)
    service.create_dataset(installation, USER, DATASET)
    schema = label_kinds.template("detection")
    schema["properties"]["boxes"]["items"]["properties"]["label"]["enum"] = CLASSES
    schema_bytes = json.dumps(schema).encode()
    schema_uuid = ev.new_uuid()
    with installation.db.write() as conn:
        log = DatasetLog.lock(conn, DATASET)
        created = log.append(ev.object_write(USER, ev.object_metadata(
            schema_uuid, 0, "schema-detection", ev.SCHEMA_FORMAT, len(schema_bytes),
            blobs.put(schema_bytes))))
        log.append(ev.review(USER, created["uuid"], True))
    bases = base_images()
    started = time.perf_counter()
    stored = 0
    for start in range(0, total, CHUNK):
        rows = []
        for i in range(start, min(total, start + CHUNK)):
            data, width, height = bases[i % len(bases)]
            padded = data + rng.randbytes(rng.randint(1024, 16 * 1024))
            boxes = []
            for _ in range(3):
                w, h = rng.randint(4, width // 3), rng.randint(4, height // 3)
                boxes.append({"label": rng.choice(CLASSES),
                              "bbox": [rng.randint(0, width - w), rng.randint(0, height - h),
                                       w, h]})
            document = json.dumps({"boxes": boxes}).encode()
            counted = content.labels_of(label_kinds.DETECTION, {"boxes": boxes})
            extension = "jpg" if (i % len(bases)) % 2 else "png"
            rows.append((f"images/{i // 1000:03d}/{i:07d}.{extension}",
                         f"image/{'jpeg' if extension == 'jpg' else 'png'}", padded, document,
                         counted))
            stored += len(padded)
        digests = {id(r): (blobs.put(r[2]), blobs.put(r[3])) for r in rows}
        with installation.db.write() as conn:
            log = DatasetLog.lock(conn, DATASET)
            objects = []
            for row in rows:
                uuid = ev.new_uuid()
                made = log.append(ev.object_write(USER, ev.object_metadata(
                    uuid, 0, row[0], row[1], len(row[2]), digests[id(row)][0])))
                log.append(ev.review(USER, made["uuid"], True))
                objects.append(uuid)
            for row, uuid in zip(rows, objects, strict=True):
                made = log.append(ev.annotation_create(USER, ev.annotation_metadata(
                    ev.new_uuid(), 0, schema_uuid, 0, len(row[3]), digests[id(row)][1]),
                    [ev.identifier(uuid, 0)]), row[4])  # (its label counts, as the service)
                log.append(ev.review(USER, made["uuid"], True))
        if (start // CHUNK + 1) % 10 == 0 or start + CHUNK >= total:
            print(f"  ... {min(total, start + CHUNK)} images ({stored / 2**20:.0f} MiB), "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        if (start // CHUNK) in (0, 1, 3, 7) or (start // CHUNK) % 20 == 19:
            analyze(installation)
    analyze(installation)
    made_release = releases.create_release(installation, DATASET, USER, "r", "", None)
    print(f"  release r: {made_release['counts']}", flush=True)
    installation.close()


def timed_download(server: Server, path: str, params: dict[str, Any],
                   keep: Path | None = None) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the last, bytes) of a streamed GET."""
    started = time.perf_counter()
    first = None
    size = 0
    with server.session.get(server.base + path, params=params, stream=True,
                            timeout=3600) as resp:
        assert resp.status_code == 200, resp.text[:300]
        sink = open(keep, "wb") if keep else None  # noqa: SIM115
        for chunk in resp.iter_content(1024 * 1024):
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            if sink:
                sink.write(chunk)
        if sink:
            sink.close()
    return first or 0.0, time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 images")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--datumaro", help="path of Datumaro's `datum` command")
    args = parser.parse_args()
    total = 10_000 if args.quick else args.images
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gonk-labels-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    key_file = workdir / "key"
    print(f"# Gonk label exports, {total} images / {3 * total} boxes; {machine()}")
    if not key_file.exists():
        if args.database_url:
            postgres_database(args.database_url)
        env = {**os.environ}
        if args.database_url:
            env["GONK_DATABASE_URL"] = args.database_url
        init = subprocess.run([*GONK, "--data-dir", str(data_dir), "init", "--username", USER],
                              capture_output=True, text=True, check=True, env=env)
        started = time.perf_counter()
        build(data_dir, args.database_url, total)
        print(f"built in {time.perf_counter() - started:.0f} s")
        key_file.write_text(init.stdout.strip().splitlines()[-1])
    env = {"GONK_DATABASE_URL": args.database_url} if args.database_url else {}
    server = Server(data_dir, key_file.read_text().strip(), workdir, env, workers=None)
    try:
        base = f"/datasets/{DATASET}/releases/r/export"
        with MemoryWatch(server) as watch:
            first, took, size = timed_download(server, base, {"format": "coco"},
                                               keep=workdir / "coco.zip")
        line, grew = watch.report()
        print(f"1. COCO, no files: {took:.1f} s to the last byte (target <= 60 s; first byte "
              f"after {first:.1f} s), {size / 2**20:.1f} MiB zip; memory growth {grew:.0f} MiB "
              f"(target < 200) [{line}]")
        with zipfile.ZipFile(workdir / "coco.zip") as archive:
            coco = json.loads(archive.read("instances.json"))
            report = json.loads(archive.read("export-report.json"))
        print(f"   {len(coco['images'])} images, {len(coco['annotations'])} boxes, "
              f"{len(coco['categories'])} categories; skipped "
              f"{len(report['skipped']['annotations'])} annotations")
        with MemoryWatch(server) as watch:
            first, took, size = timed_download(server, base, {"format": "coco",
                                                              "files": "true"})
        line, grew = watch.report()
        print(f"2. COCO zip with files: {size / 2**20:.0f} MiB in {took:.1f} s = "
              f"{size / 2**20 / took:.0f} MiB/s from the request (target >= 100), "
              f"{size / 2**20 / max(took - first, 1e-9):.0f} MiB/s once streaming (the first "
              f"byte after {first:.1f} s of reading the content); memory growth {grew:.0f} MiB "
              f"(target < 200) [{line}]")
    finally:
        server.stop()

    out = workdir / "coco-local"
    shutil.rmtree(out, ignore_errors=True)
    cli_env = {**os.environ, **env}
    started = time.perf_counter()
    # through a small Python that reports its child's peak RSS (a child forked from this large
    # process would start its high-water mark at this process's size)
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *GONK, "--data-dir", str(data_dir),
                           "export", DATASET, "--release", "r", "--format", "coco",
                           "--no-files", "--out", str(out)],
                          env=cli_env, capture_output=True, text=True)
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-500:]
    print(f"3. gonk-api export --format coco --no-files: {took:.1f} s, peak RSS "
          f"{int(done.stdout.split()[-1]) / 1024:.0f} MiB (the whole process)")

    if args.datumaro:
        voc = workdir / "voc"
        if not (voc / "export-report.json").exists():
            subprocess.run([*GONK, "--data-dir", str(data_dir), "export", DATASET, "--release",
                            "r", "--format", "voc", "--no-files", "--out", str(voc)],
                           check=True, env=cli_env, capture_output=True)
        converted = workdir / "datumaro-coco"
        shutil.rmtree(converted, ignore_errors=True)
        started = time.perf_counter()
        done = subprocess.run([args.datumaro, "convert", "-if", "voc", "-i", str(voc), "-f",
                               "coco_instances", "-o", str(converted)],
                              capture_output=True, text=True)
        datumaro = time.perf_counter() - started
        status = "ok" if done.returncode == 0 else f"failed: {done.stderr.strip()[-300:]}"
        print(f"4. Datumaro `datum convert -if voc -f coco_instances` of the same release: "
              f"{datumaro:.1f} s ({status}); Gonk's COCO export (3.) took {took:.1f} s: "
              f"{datumaro / took:.1f}x")


if __name__ == "__main__":
    main()

"""Thumbnail latency over HTTP against a real `gonk-api serve` (SQLite and files, 2 workers):
the first request for a photo's thumbnail (decoded, scaled, encoded and cached), one served
from the cache, and a revalidation answered 304. Tests never assert on time; this only prints.

    python bench/thumbnails.py                 # 40 photos of 2048 x 1536 (3.1 MP), 500 cached
    python bench/thumbnails.py --photos 20 --width 4000 --height 3000 --requests 1000
    python bench/thumbnails.py --size 128

The photos are JPEGs made with Pillow (a gradient under noise, so that they compress as photos
do: about 1 MB at 3 MP), uploaded as raw bytes. Each line gives the median and the 95th
percentile over the requests, each timed from sending to the last byte read, on one keep-alive
connection.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support import processes  # noqa: E402

DATASET = "thumbs"


def photo(width: int, height: int, seed: int) -> bytes:
    gradient = Image.linear_gradient("L").resize((width, height)).rotate(seed * 37 % 360)
    noise = Image.effect_noise((width, height), 40 + seed % 20)
    picture = Image.merge("RGB", (gradient, noise, Image.blend(gradient, noise, 0.5)))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def timed(session: requests.Session, url: str, headers: dict[str, str] | None = None,
          expect: int = 200) -> float:
    started = time.perf_counter()
    response = session.get(url, headers=headers, timeout=60)
    _ = response.content
    elapsed = time.perf_counter() - started
    assert response.status_code == expect, (response.status_code, response.text[:300])
    return elapsed


def line(what: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{what:46} n={len(seconds):4}  median {statistics.median(seconds) * 1000:7.2f} ms"
            f"  p95 {p95 * 1000:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1536)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gonk-thumbs-") as tmp:
        data_dir = Path(tmp) / "gonk-data"
        done = processes.run_cli("init", "--username", "bench", data_dir=data_dir)
        assert done.returncode == 0, done.stderr
        key = processes.last_line(done.stdout)
        server = processes.start_server(data_dir, key, "serve",
                                        ["--workers", str(args.workers), "--access-log", ""])
        try:
            session = requests.Session()
            session.headers["x-api-key"] = key
            base = f"{server.base}/datasets/{DATASET}/objects"
            assert session.post(f"{server.base}/datasets", json={"name": DATASET},
                                timeout=30).status_code == 200
            urls, total = [], 0
            for n in range(args.photos):
                data = photo(args.width, args.height, n)
                total += len(data)
                made = session.post(base, params={"name": f"photo-{n}.jpg"}, data=data,
                                    headers={"Content-Type": "image/jpeg"}, timeout=60)
                assert made.status_code == 200, made.text
                urls.append(f"{base}/{made.json()['uuid']}/0/thumbnail?size={args.size}")
            print(f"{args.photos} JPEG photos of {args.width} x {args.height} "
                  f"({args.width * args.height / 1e6:.1f} MP, {total / args.photos / 1e6:.2f} MB "
                  f"on average); thumbnails of {args.size} px; gonk-api serve --workers "
                  f"{args.workers}")
            first = [timed(session, url) for url in urls]
            cached = [timed(session, urls[n % len(urls)]) for n in range(args.requests)]
            etags = [session.get(url, timeout=30).headers["ETag"] for url in urls]
            revalidated = [timed(session, urls[n % len(urls)],
                                 {"If-None-Match": etags[n % len(urls)]}, expect=304)
                           for n in range(args.requests)]
            print(line("first request (decode, scale, encode, cache)", first))
            print(line("from the cache (200)", cached))
            print(line("revalidation (If-None-Match: 304)", revalidated))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

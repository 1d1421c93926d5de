"""Memory a worker keeps for compiled schemas: issue 11, point 6.

Validates one annotation against each of N large schemas (an `enum` of labels, as a class list
is) in one process, as one worker would, and prints the process's resident memory after each,
with the validator cache's budget (GONK_SCHEMA_CACHE_BYTES) at its default and at a small value.
Without a bound by size, memory grows with every schema used and never comes back.

    python bench/schema_memory.py [--schemas 8] [--labels 200000]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json

from gonk.domain import content
from gonk.limits import Limits

MiB = 1024**2


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / MiB


def run(budget: int, schemas: int, labels: int) -> None:
    cache = content.ValidatorCache(budget)
    start = rss_mib()
    print(f"cache budget {budget / MiB:.0f} MiB of schema text" if budget < 2**40 else
          "no budget by size (as before issue 11: 256 schemas, whatever their size)")
    for n in range(schemas):
        schema = json.dumps({"type": "array", "items": {
            "enum": [f"label-{n}-{i:07d}" for i in range(labels)]}}).encode()
        size = len(schema)
        digest = hashlib.sha256(schema).hexdigest()
        content.check_annotation(json.dumps([f"label-{n}-0000005"]).encode(), digest,
                                 lambda schema=schema: schema, cache, 30)
        del schema
        gc.collect()
        print(f"  schema {n + 1}: {size / MiB:.1f} MiB; cache holds {len(cache)} "
              f"({cache.held_bytes / MiB:.1f} MiB of text); process grew "
              f"{rss_mib() - start:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemas", type=int, default=8)
    parser.add_argument("--labels", type=int, default=200_000,
                        help="labels per schema (200,000: about 3.6 MiB of JSON)")
    args = parser.parse_args()
    run(2**50, args.schemas, args.labels)
    run(Limits().schema_cache_bytes, args.schemas, args.labels)
    run(8 * MiB, args.schemas, args.labels)


if __name__ == "__main__":
    main()

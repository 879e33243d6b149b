"""Runs every benchmark with its defaults, each printing its own tables.

Run: ``python -m bench [extraction] [retrieval] [search] [search-scale] [lexical-size]
[ingest] [pipeline] [backlog] [purge] [throughput]`` (no name: all of them). For options, run one
directly, e.g. ``python -m bench.search --help``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from bench import (
    backlog,
    extraction,
    ingest,
    lexical_size,
    pipeline,
    purge,
    retrieval,
    search,
    search_scale,
    throughput,
)

BENCHMARKS: dict[str, Callable[[Sequence[str]], int]] = {
    "extraction": extraction.main,
    "retrieval": retrieval.main,
    "search": search.main,
    "search-scale": search_scale.main,
    "lexical-size": lexical_size.main,
    "ingest": ingest.main,
    "pipeline": pipeline.main,
    "backlog": backlog.main,
    "purge": purge.main,
    "throughput": throughput.main,
}


def main(argv: Sequence[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    status = 0
    for name in argv or list(BENCHMARKS):
        status = max(status, BENCHMARKS[name]([]))
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

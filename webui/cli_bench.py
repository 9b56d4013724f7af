"""``safeguarding bench``: the performance benchmark (bench/), results to bench/results/."""
from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "bench" / "results"


def register(sub) -> None:
    cmd = sub.add_parser("bench", help="seed a database and measure speed and memory (results to bench/results/)")
    cmd.add_argument("--quick", action="store_true", help="small sizes, under two minutes (a smoke run: no targets)")
    cmd.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for results.json, .md and .png")
    cmd.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"),
                     help="PostgreSQL URL for the HTTP section on PostgreSQL (a private schema is made and dropped)")
    cmd.set_defaults(handler=cmd_bench)


def cmd_bench(args) -> int:
    from bench.run import FULL, QUICK, run
    results = run(args.out, QUICK if args.quick else FULL, args.postgres,
                  log=lambda line: print(line, file=sys.stderr, flush=True))
    for target in results["targets"]:
        print(f"{'met   ' if target['met'] else 'MISSED'} {target['target']}: {target['value']} (wanted {target['wanted']})")
    print(f"results in {args.out}")
    return 0

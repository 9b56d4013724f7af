"""``safeguarding bench``: the performance benchmark (bench/), results to bench/results/.

``bench`` is imported here, inside the command, and nowhere else: nothing else needs it loaded."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "bench" / "results"


def register(sub) -> None:
    """Add ``bench`` to the ``safeguarding`` command."""
    cmd = sub.add_parser("bench", help="seed a database and measure speed and memory (results to bench/results/)")
    cmd.add_argument("--quick", action="store_true", help="small sizes, under two minutes (a smoke run: no targets)")
    cmd.add_argument("--out", type=Path, default=None,
                     help="directory for results.json, .md and .png (default: bench/results/, or a new temporary "
                          "directory with --quick)")
    cmd.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"),
                     help="PostgreSQL URL for the HTTP section on PostgreSQL (a private schema is made and dropped)")
    cmd.set_defaults(handler=cmd_bench)


def cmd_bench(args) -> int:
    """Run the benchmark and print each target met or missed, and where the results are."""
    from bench.run import FULL, QUICK, run
    out = args.out
    if out is None:  # a smoke run's numbers must not overwrite the recorded full run's
        out = Path(tempfile.mkdtemp(prefix="sgw-bench-quick-")) if args.quick else DEFAULT_OUT
    results = run(out, QUICK if args.quick else FULL, args.postgres,
                  log=lambda line: print(line, file=sys.stderr, flush=True))
    for target in results["targets"]:
        print(f"{'met   ' if target['met'] else 'MISSED'} {target['target']}: {target['value']} (wanted {target['wanted']})")
    print(f"results in {out}")
    return 0

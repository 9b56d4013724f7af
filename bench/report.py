"""Writing the benchmark's results: JSON, a Markdown table and a plot (matplotlib)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(results: dict[str, Any], out_dir: Path) -> None:
    """results.json, results.md and results.png in ``out_dir``."""
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(results))
    plot(results, out_dir / "results.png")


def markdown(r: dict[str, Any]) -> str:
    """The results as Markdown tables: targets first, then each section."""
    m = r["machine"]
    lines = [f"# Benchmark results ({r['profile']} run, {r['started']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['os']}; Python {m['python']}, "
             f"SQLite {m['sqlite']}" + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else "") +
             f". Load average (1, 5, 15 min) at the start {m.get('load_average_at_start')}, at the end "
             f"{m.get('load_average_at_end')}; {m['note']}.", "", "## Targets", "", "| Target | Measured | Wanted | Met |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['value']} | {t['wanted']} | {'yes' if t['met'] else 'NO'} |" for t in r["targets"]]
    floor = r["engine_floor"]
    lines += ["", "## Task completion (median / p95, ms; CPU: this process's CPU time, median)", "",
              "| Measure | Median | p95 | Samples | CPU |", "|---|---|---|---|---|",
              _row(f"In process at {r['completion']['cases']:,} cases: {r['completion']['task']}", r["completion"]),
              _row(f"Engine floor (bare SpiffWorkflow, in memory): {floor['task']}", floor)]
    if r.get("stock_spiffworkflow"):
        lines.append(_row(f"For comparison: the same step with SpiffWorkflow's stock serializer (spec saved in "
                          f"every workflow): {r['stock_spiffworkflow']['task']}", r["stock_spiffworkflow"]))
    lines += ["", "## Caseload (each caseload in its own copy of the database, all taking turns sample by sample; "
              "each completion followed by three engine-floor steps of the same task)", "",
              "| Cases | Open tasks | Median | p95 | Samples | CPU | Engine floor median | Ratio |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c['cases']:,} | {c['open_tasks']:,} | {c['median_ms']} | {c['p95_ms']} | {c['samples']} | "
              f"{c.get('cpu_median_ms')} | {c['engine_floor']['median_ms']} | "
              f"{c['median_ms'] / c['engine_floor']['median_ms']:.2f} |" for c in r["caseload"]]
    lines += ["", "## Case age (completing a review conference; the reviews take turns, sample by sample)", "",
              "| Review | Stored state (KB) | Median | p95 | CPU | Engine floor median | Engine floor CPU |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {a['review']} | {a['state_bytes'] / 1024:.1f} | {a['median_ms']} | {a['p95_ms']} | "
              f"{a.get('cpu_median_ms')} | {a['engine_floor']['median_ms']} | {a['engine_floor'].get('cpu_median_ms')} |"
              for a in r["case_age"]]
    reads = r["reads"]
    lines += ["", f"## Reads ({reads['cases']:,} cases, {reads['open_tasks']:,} open tasks; whole pages)", "",
              "| Page | Median | p95 | Samples | CPU |", "|---|---|---|---|---|",
              _row(f"Inbox first page `{reads['inbox']['path']}`", reads["inbox"]),
              _row(f"Case page with {reads['case_page']['chronology_entries']} chronology entries", reads["case_page"]),
              _row(f"Chair's calendar month `{reads['calendar_month']['path']}`", reads["calendar_month"])]
    lines += ["", "## Over HTTP under load (gunicorn on loopback)", "",
              "| Database | Workers | Clients | Seconds | Requests/s | Completions/s | Completion median / p95 | "
              "Contact median / p95 | Single-client completion median | Engine floor (same task) median | Failures |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {h['database']} | {h['workers']} | {h['clients']} | {h['seconds']} | {h['throughput_per_s']} | "
              f"{h['completions_per_s']} | {h['complete']['median_ms']} / {h['complete']['p95_ms']} | "
              f"{h['contact']['median_ms']} / {h['contact']['p95_ms']} | {h['single_client_complete']['median_ms']} | "
              f"{h['engine_floor']['median_ms']} | {h['failures']} |" for h in r["http"]]
    mem = r["memory"]
    lines += ["", "## Web worker memory", "", "| Completions | Resident memory (kB) |", "|---|---|"]
    lines += [f"| {m['completions']:,} | {m['rss_kb']:,} |" for m in mem["marks"]]
    lines += ["", f"Growth: {mem['growth']:.1%}" if mem["growth"] is not None else "", "",
              f"Run took {r['duration_s']} s.", ""]
    return "\n".join(lines)


def _row(label: str, s: dict[str, Any]) -> str:
    cpu = f" {s['cpu_median_ms']} |" if "cpu_median_ms" in s else ""
    return f"| {label} | {s['median_ms']} | {s['p95_ms']} | {s['samples']} |{cpu}"


def plot(r: dict[str, Any], path: Path) -> None:
    """Completion cost against caseload and against case age, beside the engine floor."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    cases = [c["cases"] for c in r["caseload"]]
    left.plot(cases, [c["median_ms"] for c in r["caseload"]], marker="o", label="median")
    left.plot(cases, [c["p95_ms"] for c in r["caseload"]], marker="o", linestyle="--", label="p95")
    left.plot(cases, [c["engine_floor"]["median_ms"] for c in r["caseload"]], marker="o", color="grey",
              linestyle=":", label="engine floor (median, measured between)")
    left.set_xscale("log")
    left.set_xlabel("cases in the database")
    left.set_ylabel("task completion (ms)")
    left.set_title("Cost against caseload")
    left.set_ylim(bottom=0)
    left.legend()
    reviews = [a["review"] for a in r["case_age"]]
    right.plot(reviews, [a["median_ms"] for a in r["case_age"]], marker="o", label="median")
    right.plot(reviews, [a["p95_ms"] for a in r["case_age"]], marker="o", linestyle="--", label="p95")
    right.plot(reviews, [a["engine_floor"]["median_ms"] for a in r["case_age"]], marker="o", color="grey",
               linestyle=":", label="engine floor (median)")
    right.set_xlabel("review conference number")
    right.set_ylabel("completing the review (ms)")
    right.set_title("Cost against case age")
    right.set_ylim(bottom=0)
    right.set_xticks(reviews)
    right.legend()
    figure.suptitle(f"Safeguarding Workflow benchmark ({r['profile']} run)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def readme(r: dict[str, Any]) -> str:
    """The README's record of a run: the machine, the targets and the main measurements."""
    m = r["machine"]
    lines = [f"Run of {r['started']} ({r['duration_s']} s) on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
             f"Python {m['python']}, SQLite {m['sqlite']}"
             + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else "")
             + f"; load average {m.get('load_average_at_start')} at the start, {m.get('load_average_at_end')} at the end.",
             "", "| Target | Wanted | Measured | Met |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['wanted']} | {t['value']} | {'yes' if t['met'] else 'no'} |" for t in r["targets"]]
    floor, done = r["engine_floor"], r["completion"]
    rows = [(f"Task completion in process, {done['cases']:,} cases ({done['task']}), wall / CPU",
             f"{done['median_ms']} / {done['cpu_median_ms']} (p95 {done['p95_ms']})"),
            ("Engine floor, same task (SpiffWorkflow's converters, in memory), wall / CPU",
             f"{floor['median_ms']} / {floor['cpu_median_ms']}")]
    if r.get("stock_spiffworkflow"):
        rows.append(("The same step with SpiffWorkflow's stock serializer (spec in every save)",
                     f"{r['stock_spiffworkflow']['median_ms']}"))
    rows += [(f"Completion at {c['cases']:,} cases ({c['open_tasks']:,} open tasks); floor beside it",
              f"{c['median_ms']} (p95 {c['p95_ms']}); {c['engine_floor']['median_ms']}") for c in r["caseload"]]
    rows += [(f"Review conference no. {a['review']}: completion (floor); stored state",
              f"{a['median_ms']} ({a['engine_floor']['median_ms']}); {a['state_bytes'] / 1024:.1f} KB") for a in r["case_age"]]
    reads = r["reads"]
    rows += [(f"Inbox first page (50 of {reads['open_tasks']:,} open tasks)",
              f"{reads['inbox']['median_ms']} (p95 {reads['inbox']['p95_ms']})"),
             (f"Case page, {reads['case_page']['chronology_entries']} chronology entries",
              f"{reads['case_page']['median_ms']} (p95 {reads['case_page']['p95_ms']})"),
             ("Chair's calendar month", f"{reads['calendar_month']['median_ms']} (p95 {reads['calendar_month']['p95_ms']})")]
    for h in r["http"]:
        rows += [(f"HTTP, {h['database']}, {h['workers']} workers, {h['clients']} clients: completions/s (requests/s); "
                  f"completion p50 / p95", f"{h['completions_per_s']} ({h['throughput_per_s']}); "
                  f"{h['complete']['median_ms']} / {h['complete']['p95_ms']}"),
                 (f"HTTP, {h['database']}, one client: completion; floor of the same task",
                  f"{h['single_client_complete']['median_ms']}; {h['engine_floor']['median_ms']}")]
    marks = r["memory"]["marks"]
    rows.append((f"Web worker resident memory after {marks[0]['completions']:,} / {marks[1]['completions']:,} completions",
                 f"{marks[0]['rss_kb'] / 1024:.1f} / {marks[1]['rss_kb'] / 1024:.1f} MB"))
    lines += ["", "| Measurement (medians; ms unless said) | Value |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    return "\n".join(lines) + "\n"

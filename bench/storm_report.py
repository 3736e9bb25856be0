"""The login storm bench's figures: the statistics (`percentile`, `summary`), the report of a
storm against the lone student (`report`), of the lone student alone (`lone_report`), the first
cells side by side (`side_by_side`), their formatting helpers, the targets they are checked against
(issues 12 and 23), and `log`, the bench's progress lines on stderr.

Kept apart from login_storm.py, which runs the storm: these only read its results (the students'
marks, counters and readings) and print them.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

# The phases a Student marks (storm_student.py), in their order: the report's rows.
PHASES = ("login", "server ready", "lab page", "kernel started", "cell done")
TARGET_MEDIAN_READY, TARGET_MAX_READY = 20.0, 35.0
# Issue 23's targets for "cell done" (35 students at once on 2 cores), and for the lone student's
# cell alone (execute_request -> execute_reply) on a kernel that has answered.
TARGET_CELL_DONE = {"print": {"max": 12.0}, "plot": {"median": 8.0, "max": 15.0}}
TARGET_CELL_ALONE = 0.3
MIB = 1024 * 1024


def log(msg):
    print(f"[storm {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# Statistics -------------------------------------------------------------------------------------

def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def summary(values):
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values), "p95": percentile(values, 95),
            "max": max(values)}


# Report -----------------------------------------------------------------------------------------

def fmt(s, ref=None):
    if s is None:
        return "-"
    text = f"{s['median']:6.2f} {s['p95']:6.2f} {s['max']:6.2f}"
    if ref:
        text += f"   x{s['median'] / ref:5.2f} x{s['max'] / ref:5.2f}"
    return text


CPU_PARTS = ("server", "kernel start", "first cell")


def cpu_per_pupil(students):
    """The median over the students of each part of their CPU (Student.cpu_split), None where
    no reading; the total is the sum of the parts' medians."""
    out = {}
    for part in CPU_PARTS:
        values = [s.cpu_split[part] for s in students if s.cpu_split[part] is not None]
        out[part] = statistics.median(values) if values else None
        out[part + " n"] = len(values)
    out["total"] = None if any(out[p] is None for p in CPU_PARTS) else sum(out[p] for p in CPU_PARTS)
    return out


def fmt_cpu(split, n):
    def one(x):
        return "missing" if x is None else f"{x:.2f} s"
    text = (f"server {one(split['server'])}, kernel start {one(split['kernel start'])}, "
            f"first cell {one(split['first cell'])}, total {one(split['total'])}")
    read = [split[p + " n"] for p in CPU_PARTS]
    if any(k != n for k in read):
        text += f" (read for {'/'.join(map(str, read))} of {n})"
    return text


def fmt_memory(memory):
    if not memory:
        return "missing"
    text = (f"PSS {memory['pss'] / MIB:.0f} MiB together ({memory['pss'] / MIB / memory['kernels']:.0f} MiB "
            f"per kernel), RSS {memory['rss'] / MIB:.0f} MiB together ({memory['kernels']} kernels)")
    if memory.get("template_pss") is not None:
        text += f"; the kernel template, whose pages they share, PSS {memory['template_pss'] / MIB:.0f} MiB more"
    return text


def memory_json(memory):
    if not memory:
        return None
    return {**memory, "pss_mib": memory["pss"] / MIB, "rss_mib": memory["rss"] / MIB,
            "pss_mib_per_kernel": memory["pss"] / MIB / memory["kernels"],
            "template_pss_mib": None if memory.get("template_pss") is None else memory["template_pss"] / MIB}


def cell_alone_verdict(values):
    """The lone student's cell alone (median) against its target, or None without a figure."""
    if not values:
        return None
    median = statistics.median(values)
    return (f"lone student's cell alone (execute_request -> execute_reply) {median:.2f} s "
            f"<= {TARGET_CELL_ALONE:g} s", median <= TARGET_CELL_ALONE)


def report(lone_results, storm, spread, n, cell="print"):
    ok_lone = [s for s, _c, _cpu in lone_results if s.error is None]
    lone = {p: statistics.median([s.marks[p] for s in ok_lone]) for p in PHASES} if ok_lone else {}
    lone_cpu = [cpu for _s, _c, cpu in lone_results if cpu is not None]
    lone_alone = [s.cell_alone for s in ok_lone if s.cell_alone is not None]
    students = storm["students"]
    done = [s for s in students if s.error is None]
    print(f"\n=== {n} students, start times spread over {spread:g} s, first cell \"{cell}\" "
          f"(lone student: median of {len(ok_lone)}) ===")
    print(f"{'phase (s since first request)':32} {'lone':>7}   {'median':>6} {'p95':>6} {'max':>6}"
          f"   {'ratio median / max to lone'}")
    stats = {}
    for p in PHASES:
        values = [s.marks[p] for s in students if p in s.marks]
        stats[p] = summary(values)
        label = p + (" (total)" if p == "cell done" else "")
        print(f"{label:32} {lone.get(p, float('nan')):7.2f}   {fmt(stats[p], lone.get(p))}"
              + (f"   ({len(values)}/{n})" if len(values) != n else ""))
    steps = {}
    print(f"{'step durations (s)':32} {'lone':>7}   {'median':>6} {'p95':>6} {'max':>6}")
    for prev, p in zip(("start",) + PHASES, PHASES):
        values = [s.marks[p] - s.marks.get(prev, 0.0) for s in students if p in s.marks and
                  (prev == "start" or prev in s.marks)]
        steps[p] = summary(values)
        lone_step = lone.get(p, float("nan")) - (lone.get(prev, 0.0) if prev != "start" else 0.0)
        print(f"  {prev + ' -> ' + p:30} {lone_step:7.2f}   {fmt(steps[p])}")
    alone_values = [s.cell_alone for s in students if s.cell_alone is not None]
    alone = summary(alone_values)
    lone_alone_median = statistics.median(lone_alone) if lone_alone else float("nan")
    print(f"  {'cell alone (request -> reply)':30} {lone_alone_median:7.2f}   {fmt(alone)}")
    http_errors = dict(sorted(storm["counters"].status.items()))
    retries = sum(s.retries_429 for s in students)
    failures = [f"{s.name}: {s.error}" for s in students if s.error]
    ws_retries = sum(s.ws_retries for s in students)
    print(f"requests {storm['counters'].requests}, HTTP errors {http_errors or 'none'}, "
          f"429 shown to students {retries}, websocket reconnections {ws_retries}, "
          f"failures {len(failures)}/{n}, wall {storm['wall']:.1f} s")
    for f in failures[:10]:
        print("  failed:", f)
    if storm["server_cpu"]:
        print(f"CPU per single-user server (s, its process until the cell ran): storm median "
              f"{statistics.median(storm['server_cpu']):.2f} max {max(storm['server_cpu']):.2f}; lone median "
              + (f"{statistics.median(lone_cpu):.2f}" if lone_cpu else "-"))
    if storm["kernel_cpu"]:
        print(f"CPU per teaching kernel (s, until the cell ran): storm median "
              f"{statistics.median(storm['kernel_cpu']):.2f} max {max(storm['kernel_cpu']):.2f}")
    storm_split, lone_split = cpu_per_pupil(students), cpu_per_pupil(ok_lone)
    print(f"CPU per pupil (median): {fmt_cpu(storm_split, n)}")
    print(f"CPU per pupil, lone student (median): {fmt_cpu(lone_split, len(ok_lone))}")
    print(f"kernels' memory after the first cell: {fmt_memory(storm['kernels_memory'])}")
    lone_memory = [s.kernel_memory for s in ok_lone if s.kernel_memory]
    if lone_memory:
        print(f"  the lone student's kernel after its first cell (about a fresh kernel): "
              f"PSS {statistics.median(m['pss'] for m in lone_memory) / MIB:.0f} MiB, "
              f"RSS {statistics.median(m['rss'] for m in lone_memory) / MIB:.0f} MiB")
    if storm["hub_cpu"] is not None and n:
        print(f"CPU of the hub and its proxy during the storm: {storm['hub_cpu']:.1f} s "
              f"({storm['hub_cpu'] / n:.2f} s per student)")
    print("load average before / after: " + " ".join(f"{x:.2f}" for x in storm["load_before"])
          + " / " + " ".join(f"{x:.2f}" for x in storm["load_after"]) + f" ({os.cpu_count()} CPUs)")
    ready = stats["server ready"]
    verdicts = []
    if ready and len(done) == n:
        verdicts.append((f"median time to a ready server {ready['median']:.1f} s <= {TARGET_MEDIAN_READY:g} s"
                         f" (x{ready['median'] / lone['server ready']:.1f} the lone student)" if lone else "",
                         ready["median"] <= TARGET_MEDIAN_READY))
        verdicts.append((f"slowest ready server {ready['max']:.1f} s <= {TARGET_MAX_READY:g} s"
                         + (f" (x{ready['max'] / lone['server ready']:.1f} the lone student)" if lone else ""),
                         ready["max"] <= TARGET_MAX_READY))
    cell_done, target = stats["cell done"], TARGET_CELL_DONE.get(cell, {})
    if cell_done and len(done) == n:
        if "median" in target:
            verdicts.append((f"{cell} cell: median time to cell done {cell_done['median']:.1f} s "
                             f"<= {target['median']:g} s", cell_done["median"] <= target["median"]))
        if "max" in target:
            verdicts.append((f"{cell} cell: slowest cell done {cell_done['max']:.1f} s <= {target['max']:g} s",
                             cell_done["max"] <= target["max"]))
    if cell_alone_verdict(lone_alone):
        verdicts.append(cell_alone_verdict(lone_alone))
    verdicts.append(("no failed login", not any(s.error and s.error.startswith("login") for s in students)))
    verdicts.append(("no 429 shown to a student", retries == 0 and 429 not in http_errors))
    verdicts.append(("every student ran the cell", len(done) == n))
    for text, ok in verdicts:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    return {"spread": spread, "n": n, "first_cell": cell, "lone": lone, "lone_server_cpu": lone_cpu,
            "phases": stats, "steps": steps,
            "cell_alone": {"lone": lone_alone, "storm": alone},
            "cpu_per_pupil": {"storm": storm_split, "lone": lone_split},
            "kernels_memory": memory_json(storm["kernels_memory"]),
            "lone_kernel_memory": [memory_json(m) for m in lone_memory],
            "http_errors": http_errors, "shown_429": retries, "failures": failures,
            "server_cpu": storm["server_cpu"], "kernel_cpu": storm["kernel_cpu"], "hub_cpu": storm["hub_cpu"],
            "load_before": storm["load_before"], "load_after": storm["load_after"],
            "targets_met": all(ok for _t, ok in verdicts),
            "headline": {"cell done median (s)": cell_done and cell_done["median"],
                         "cell done max (s)": cell_done and cell_done["max"],
                         "cell alone, lone student (s)": statistics.median(lone_alone) if lone_alone else None,
                         "CPU per pupil, total (s)": storm_split["total"],
                         "CPU of the first cell (s)": storm_split["first cell"],
                         "kernels' PSS, per kernel (MiB)": (memory_json(storm["kernels_memory"]) or {})
                         .get("pss_mib_per_kernel")}}


def lone_report(lone, cell, cpu_at_ready):
    """The lone student's runs without a storm (--students 0)."""
    cpu = [c for _s, _c, c in lone if c is not None]
    ok = [s for s, _c, _cpu in lone if s.error is None]
    alone = [s.cell_alone for s in ok if s.cell_alone is not None]
    sys.stdout.flush()
    print(f"\n=== lone student, first cell \"{cell}\", {len(ok)}/{len(lone)} runs ===")
    for ph in PHASES:
        print(f"{ph:16} median {statistics.median([s.marks[ph] for s in ok]):.2f} s" if ok else ph)
    if alone:
        print(f"{'cell alone':16} median {statistics.median(alone):.2f} s (execute_request -> execute_reply)")
    if cpu:
        when = "when ready" if cpu_at_ready else "after the cell"
        print(f"CPU of the single-user server {when} (s): median {statistics.median(cpu):.2f}, "
              f"runs {' '.join(f'{c:.2f}' for c in cpu)}")
    split = cpu_per_pupil(ok)
    print(f"CPU per pupil (median): {fmt_cpu(split, len(ok))}")
    memory = [s.kernel_memory for s in ok if s.kernel_memory]
    if memory:
        print(f"the kernel's memory after the first cell: PSS {statistics.median(m['pss'] for m in memory) / MIB:.0f}"
              f" MiB, RSS {statistics.median(m['rss'] for m in memory) / MIB:.0f} MiB")
    verdict = cell_alone_verdict(alone)
    if verdict:
        print(f"  [{'ok' if verdict[1] else 'MISSED'}] {verdict[0]}")
    return {"spread": None, "first_cell": cell, "lone_server_cpu": cpu,
            "lone": {ph: [s.marks.get(ph) for s in ok] for ph in PHASES},
            "cell_alone": {"lone": alone}, "cpu_per_pupil": {"lone": split},
            "lone_kernel_memory": [memory_json(m) for m in memory],
            "targets_met": verdict[1] if verdict else True,
            "headline": {"cell done median (s)": statistics.median([s.marks["cell done"] for s in ok]) if ok else None,
                         "cell alone (s)": statistics.median(alone) if alone else None,
                         "CPU per pupil, total (s)": split["total"],
                         "CPU of the first cell (s)": split["first cell"],
                         "kernel's PSS (MiB)": statistics.median(m["pss"] for m in memory) / MIB if memory else None}}


def side_by_side(results, cells):
    """The headline figures of each run, one column per first cell."""
    print("\n=== first cells side by side ===")
    print(f"{'':44}" + "".join(f"{c:>10}" for c in cells))
    runs = []
    for r in results:
        key = (r["spread"], r.get("warm", False))
        if key not in runs:
            runs.append(key)
    for spread, warm in runs:
        by_cell = {r["first_cell"]: r["headline"] for r in results
                   if (r["spread"], r.get("warm", False)) == (spread, warm)}
        print("lone student only" if spread is None else
              f"storm over {spread:g} s" + (", servers warm-started" if warm else ""))
        rows = next(iter(by_cell.values()))
        for row in rows:
            values = [by_cell.get(c, {}).get(row) for c in cells]
            print(f"  {row:42}" + "".join(f"{'-':>10}" if v is None else f"{v:10.2f}" for v in values))

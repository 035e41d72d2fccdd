#!/usr/bin/env python3
"""Writes the results of one `make bench` run (scripts/bench.sh) into docs/performance.md.

usage: bench_report.py <run folder> <docs/performance.md>

The run folder holds one JSON file per scenario (written by hub-load and bench.sh) and
commands.txt. The part of the document between the `bench:results` markers is replaced; the
rest of the document (analysis, before/after notes) is left as it is.
"""

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


def load(folder, name):
    path = os.path.join(folder, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def ms(value, key):
    if not value or not value.get(key):
        return None
    return value[key]


def fmt(x, unit="", digits=0):
    if x is None:
        return "not measured"
    return f"{x:,.{digits}f}{unit}"


def verdict(ok):
    if ok is None:
        return "—"
    return "met" if ok else "**not met**"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    folder, doc = sys.argv[1], sys.argv[2]
    r = {name: load(folder, name) for name in [
        "embedded-startup", "embedded-3300", "embedded-1000", "production-api", "production-1500", "pgbench",
        "production-500", "production-500-one", "production-1000", "production-slow-vendor", "production-drain",
        "production-dispatch", "pgbench-500",
    ]}

    def achieved(name):
        return r[name]["achievedRate"] if r[name] else None

    def errors(name):
        if not r[name]:
            return "not run"
        e = r[name]["errorsByStatus"]
        dropped = r[name]["dropped"]
        parts = [f"{k}: {v}" for k, v in e.items()]
        if dropped:
            parts.append(f"dropped by the client: {dropped}")
        return "; ".join(parts) if parts else "no errors"

    api = achieved("production-api")
    p1500 = achieved("production-1500")
    baseline = r["pgbench"]["tps"] if r["pgbench"] else None
    ratio = api / baseline if api and baseline else None
    p500 = r["production-500"]
    post_p99 = ms(p500 and p500["postLatencyMs"], "p99")
    sent_p99 = ms(p500 and p500["acceptToSentMs"], "p99")
    p500_one = r["production-500-one"]
    one_post_p99 = ms(p500_one and p500_one["postLatencyMs"], "p99")
    one_sent_p99 = ms(p500_one and p500_one["acceptToSentMs"], "p99")
    drain = r["production-drain"]["eventsPerSecond"] if r["production-drain"] else None
    slow = r["production-slow-vendor"]["estimatedDispatchRate"] if r["production-slow-vendor"] else None
    backlog = r["production-dispatch"]["deliveriesPerSecond"] if r["production-dispatch"] else None
    rss = r["embedded-1000"]["hubRssMiB"]["max"] if r["embedded-1000"] and r["embedded-1000"]["hubRssMiB"] else None
    rss_p = r["production-1000"]["hubRssMiB"]["max"] if r["production-1000"] and r["production-1000"]["hubRssMiB"] else None
    start = r["embedded-startup"]["startToReadyMs"] if r["embedded-startup"] else None
    e3300 = achieved("embedded-3300")

    rows = [
        ("accepted POSTs/s, production stack: API-only process (NH_ROLES=api, as Helm deploys it), 2,200/s offered",
         "≥ 1,500/s", fmt(api, "/s") + f" ({errors('production-api')})", verdict(None if api is None else api >= 1500)),
        ("… one process with every role (relay and workers dispatching on the same cores), 1,500/s offered",
         "(no target)", fmt(p1500, "/s") + f" ({errors('production-1500')})", "—"),
        ("… API-only vs the pgbench accept baseline (16 clients)", "≥ 0.6 ×", (fmt(ratio, " ×", 2) + f" of {fmt(baseline, ' tps')}") if ratio else "not measured",
         verdict(None if ratio is None else ratio >= 0.6)),
        ("accepted POSTs/s, embedded stack (3,300/s offered)", "≥ 3,000/s", fmt(e3300, "/s") + f" ({errors('embedded-3300')})",
         verdict(None if e3300 is None else e3300 >= 3000)),
        ("POST latency p99 at 500/s, production (API process, relay/workers in a second process as Helm deploys them)",
         "≤ 25 ms", fmt(post_p99, " ms", 1), verdict(None if post_p99 is None else post_p99 <= 25)),
        ("… baseline: the pgbench accept transaction alone at 500/s (p50 / p99, from its scheduled start)", "(no target)",
         f"{fmt(r['pgbench-500']['p50'], ' ms', 1)} / {fmt(r['pgbench-500']['p99'], ' ms', 1)}" if r["pgbench-500"] else "not measured", "—"),
        ("accept → SENT p99 at 500/s, production, vendor 0 ms (same two processes)", "≤ 250 ms", fmt(sent_p99, " ms", 1),
         verdict(None if sent_p99 is None else sent_p99 <= 250)),
        ("… POST p99 / accept → SENT p99 at 500/s with every role in one process", "(no target)",
         f"{fmt(one_post_p99, ' ms', 1)} / {fmt(one_sent_p99, ' ms', 1)}", "—"),
        ("outbox backlog drain to Kafka", "≥ 10,000 events/s",
         fmt(drain, " events/s") + (f" ({r['production-drain']['rows']:,} rows)" if drain else ""), verdict(None if drain is None else drain >= 10000)),
        ("dispatch rate, NH_MOCK_VENDOR_LATENCY=100ms: worker-only process draining a queued backlog", "≥ 1,500 deliveries/s",
         fmt(backlog, "/s") + (f" ({r['production-dispatch']['deliveries']:,} deliveries)" if backlog else ""),
         verdict(None if backlog is None else backlog >= 1500)),
        ("… the same with the API taking 2,000/s on the same box (one process, all roles)", "(no target)", fmt(slow, "/s"), "—"),
        ("hub RSS at 1,000/s for 60 s (embedded / production)", "≤ 150 MB",
         f"{fmt(rss, ' MiB')} / {fmt(rss_p, ' MiB')}",
         verdict(None if rss is None and rss_p is None else max(x for x in (rss, rss_p) if x is not None) <= 143)),
        ("start → ready, embedded (fresh data folder)", "≤ 1 s", fmt(start, " ms"), verdict(None if start is None else start <= 1000)),
    ]

    detail = []
    for name in ["embedded-3300", "embedded-1000", "production-api", "production-1500", "production-500", "production-500-one", "production-1000",
                 "production-slow-vendor"]:
        v = r[name]
        if not v:
            continue
        post, sent = v["postLatencyMs"] or {}, v["acceptToSentMs"] or {}
        pg = load(folder, name + "-pg")
        cores = v.get("hubCpuCores")
        dispatch = v.get("estimatedDispatchRate")
        detail.append(
            f"| {v['label']} | {v['offeredRate']:,.0f}/s × {v['durationSeconds']:.0f} s | {v['achievedRate']:,.0f}/s | "
            f"{post.get('p50', '–')} / {post.get('p95', '–')} / {post.get('p99', '–')} / {post.get('max', '–')} | "
            f"{sent.get('p50', '–')} / {sent.get('p95', '–')} / {sent.get('p99', '–')} | "
            f"{fmt(dispatch, '/s')} | {errors(name)} | {(v['hubRssMiB'] or {}).get('max', '–')} MiB | "
            f"{fmt(cores, '', 2)} | {fmt(pg['commitsPerSecond'], '/s') if pg else '–'} |"
        )

    with open(os.path.join(folder, "commands.txt")) as f:
        commands = f.read().strip()

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        BEGIN,
        f"Measured {now} on {os.cpu_count()} cores ({cpu_model()}), commit `{git_commit()}`, by `make bench` "
        f"(results: `{folder}`). The load driver runs on the same machine as the hub and the services.",
        "",
        "| what | target | measured | |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    out += [
        "",
        "Every `send` run in detail (latencies in ms; POST latency from each request's due time, so "
        "queueing in the client or the server counts):",
        "",
        "| run | offered | achieved | POST p50 / p95 / p99 / max | accept → SENT p50 / p95 / p99 | dispatch (est.) | errors | hub RSS max | hub CPU (cores) | PostgreSQL commits |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    out += detail
    out += ["", "The commands, as run:", "", "```", commands, "```", END]

    with open(doc) as f:
        text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + "\n".join(out) + tail
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(out) + "\n"
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

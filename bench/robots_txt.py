"""opt_out's robots.txt table on hostile files: memory and time per URL with robots.txt files of wildcard rules many
megabytes long, for the code in this checkout and for `filters/opt_out.py` at an earlier commit (`--before`).

    python bench/robots_txt.py [--megabytes 10] [--hosts 1 3] [--before 2427be7] [--json OUT]

Each host gets a robots.txt of `--megabytes` of `Disallow: /*p<i>*q$` lines under `User-agent: *` (every configured
AI agent falls to that group; no rule matches the URLs asked, so every rule is tried). Each variant runs in a fresh
process: resident memory after the files are read and after each host's first URL (its file parsed), the CPU time of
that first URL (the parse) and the median CPU time of the next `--urls` URLs of each host (the matching alone).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_files(folder: Path, hosts: int, megabytes: float) -> None:
    lines, size, i = ["User-agent: *"], 0, 0
    while size < megabytes * (1 << 20):
        lines.append(f"Disallow: /*p{i}*q$")
        size += len(lines[-1]) + 1
        i += 1
    text = "\n".join(lines) + "\n"
    for h in range(hosts):
        (folder / f"host{h}.example.txt").write_text(text)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def child(variant: str, folder: str, hosts: int, urls: int, before: str) -> dict:
    """Runs in a fresh process: loads the table the variant's way and decides URLs."""
    from curate.filters.opt_out import AI_AGENTS
    from curate.stages.opt_out import load_robots  # imported before the memory is measured, in both variants

    start = rss_mb()
    if variant == "after":
        table, facts = load_robots([folder], 500 * 1024)
    else:
        import importlib.util

        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{before}:filters/opt_out.py"], check=True,
                                capture_output=True, text=True).stdout
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "before_opt_out.py"
            path.write_text(source)
            spec = importlib.util.spec_from_file_location("before_opt_out", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["before_opt_out"] = module
            spec.loader.exec_module(module)
        table, facts = module.RobotsTable.load([folder]), None
    loaded = rss_mb()
    first, matching = [], []
    for h in range(hosts):
        started = time.process_time()
        table.refusing_agent(f"https://host{h}.example/a/page.html", AI_AGENTS)
        first.append(time.process_time() - started)
        for u in range(urls):
            started = time.process_time()
            table.refusing_agent(f"https://host{h}.example/b/{u}.html", AI_AGENTS)
            matching.append(time.process_time() - started)
    return {"variant": variant, "rss_read_mb": round(loaded - start, 1), "rss_parsed_mb": round(rss_mb() - start, 1),
            "first_url_s": round(max(first), 3), "per_url_s": round(statistics.median(matching), 4),
            "cut": facts["cut"] if facts else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--urls", type=int, default=5)
    parser.add_argument("--before", default="2427be7")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, folder, hosts, urls, before = args.child
        print(json.dumps(child(variant, folder, int(hosts), int(urls), before)))
        return
    results = {"megabytes": args.megabytes, "load": os.getloadavg(), "runs": []}
    for hosts in args.hosts:
        with tempfile.TemporaryDirectory(prefix="robots-bench-") as folder:
            write_files(Path(folder), hosts, args.megabytes)
            for variant in ("before", "after"):
                done = subprocess.run([sys.executable, __file__, "--child", variant, folder, str(hosts),
                                       str(args.urls), args.before], check=True, capture_output=True, text=True)
                row = {"hosts": hosts, **json.loads(done.stdout)}
                results["runs"].append(row)
                print(json.dumps(row), flush=True)
    results["load_after"] = os.getloadavg()
    print(f"load average {results['load']} -> {results['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""url_filter on a generated UT1-style tree of >= 1,000,000 domains: list load time, memory, URLs/s, and correctness
(every listed host and subdomain rejected with its category, every look-alike kept), beside a plain Python `set`
of host strings walked suffix by suffix (the usual way, datatrove's `URLFilter` among them) measured in the same run.

    python bench/url_filter.py [--domains 1000000] [--categories 10] [--urls 200000] [--repeats 2] [--tree DIR]
                               [--json OUT]

Each variant loads in a fresh process, so its resident-memory growth is its own: RSS after loading minus before
(imports and the test URLs excluded), and the growth of the process's peak RSS while loading.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

TLDS = ["com", "net", "org", "de", "fr", "co.uk", "info", "ru", "io", "com.br"]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    """This process's peak RSS (VmHWM): unlike getrusage's ru_maxrss, not inherited from the parent at fork."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def generate(tree: Path, domains: int, categories: int, seed: int = 1) -> list[str]:
    """A UT1 layout with `domains` distinct hosts over `categories` folders (and a urls file each); returns the hosts."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase + string.digits
    hosts: set[str] = set()
    while len(hosts) < domains:
        label = "".join(rng.choices(letters, k=rng.randint(5, 14)))
        hosts.add(f"{label}.{rng.choice(TLDS)}")
    ordered = sorted(hosts)
    rng.shuffle(ordered)
    per = -(-len(ordered) // categories)
    for c in range(categories):
        folder = tree / f"category{c:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        part = ordered[c * per:(c + 1) * per]
        (folder / "domains").write_text("\n".join(part) + "\n")
        (folder / "urls").write_text("\n".join(f"{h}/listed/page{i}.html" for i, h in enumerate(part[:5000])) + "\n")
    return ordered


class SetFilter:
    """The peer: every listed host in a Python set; a URL's host and its parent domains looked up one by one."""

    def __init__(self, tree: Path):
        self.category: dict[str, str] = {}
        for folder in sorted(tree.iterdir()):
            with open(folder / "domains", encoding="utf-8") as f:
                for line in f:
                    self.category.setdefault(line.strip().lower(), folder.name)

    def decide(self, urls: list[str]) -> list[str | None]:
        from urllib.parse import urlsplit

        out = []
        for url in urls:
            host = (urlsplit(url).hostname or "").rstrip(".")
            parts = host.split(".")
            out.append(next((f"ut1:{self.category[d]}" for d in (".".join(parts[i:]) for i in range(len(parts)))
                             if d in self.category), None))
        return out


def variant(name: str, tree: Path, urls_file: Path) -> dict:
    """Load one variant, decide every URL; run in a fresh process."""
    from curate.stages.url_filter import UrlFilter, UrlFilterParams  # imports are not the list's memory

    before, peak_before = rss(), peak_rss()
    started = time.perf_counter()
    if name == "url_filter":
        stage = UrlFilter(UrlFilterParams(ut1=str(tree)))
        stage.setup()
        decide = lambda batch: stage.process(pa.RecordBatch.from_pydict({"url": batch})).column(  # noqa: E731
            "reject_reason").to_pylist()
        entries = len(stage.hosts)
    else:
        peer = SetFilter(tree)
        decide = peer.decide
        entries = len(peer.category)
    load = time.perf_counter() - started
    loaded, peak_loaded = rss(), peak_rss()
    urls = json.loads(urls_file.read_text())  # after the lists: the peak while loading is the lists' own
    started = time.perf_counter()
    reasons = []
    for at in range(0, len(urls), 4096):
        reasons += decide(urls[at:at + 4096])
    seconds = time.perf_counter() - started
    return {"variant": name, "hosts_loaded": entries, "load_seconds": round(load, 2),
            "rss_growth_mb": round((loaded - before) / 2**20, 1),
            "peak_growth_mb": round((peak_loaded - peak_before) / 2**20, 1),
            "urls_per_second": round(len(urls) / seconds), "reasons": reasons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--categories", type=int, default=10)
    parser.add_argument("--urls", type=int, default=200_000, help="URLs decided (listed, subdomains, look-alikes, "
                                                                  "unlisted)")
    parser.add_argument("--tree", type=Path, help="where to write the UT1 tree (default: a temporary folder)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant, alternating; best kept")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--urls-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(variant(args.variant, args.tree, args.urls_file)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        tree = args.tree or Path(scratch) / "blacklists"
        started = time.perf_counter()
        hosts = generate(tree, args.domains, args.categories)
        print(f"generated {len(hosts):,} domains in {args.categories} categories under {tree} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        listed = set(hosts)
        per = -(-len(hosts) // args.categories)
        category = {h: f"ut1:category{i // per:02d}" for i, h in enumerate(hosts)}
        rng = random.Random(2)
        cases: list[tuple[str, str, str | None]] = []  # kind, url, expected reason
        quarter = args.urls // 4
        for host in rng.sample(hosts, quarter // 2):
            cases.append(("listed host", f"https://{host}/index.html", category[host]))
            cases.append(("subdomain", f"http://{rng.choice(['www', 'a.b', 'm', 'cdn-3'])}.{host.upper()}/x?y=1",
                          category[host]))
        for host in rng.sample(hosts, quarter):
            label, _, rest = host.partition(".")
            look = rng.choice([f"not{host}", f"{label}x.{rest}", f"{host}x", f"{label}.{rest}.evil-{label}.net",
                               f"{label}-{rest.replace('.', '-')}.com"])
            parts = look.split(".")
            if not any(".".join(parts[i:]) in listed for i in range(len(parts))):  # truly unlisted, parents too
                cases.append(("look-alike", f"https://{look}/", None))
        letters = string.ascii_lowercase
        while len(cases) < args.urls:
            host = "".join(rng.choices(letters, k=9)) + ".example-unlisted.org"
            cases.append(("unlisted", f"https://{host}/page", None))
        urls_file = Path(scratch) / "urls.json"
        urls_file.write_text(json.dumps([url for _, url, _ in cases]))
        best: dict[str, dict] = {}
        for _ in range(args.repeats):  # alternating, best of each: the machine is shared
            for name in ("url_filter", "python_set"):
                out = subprocess.run([sys.executable, __file__, "--variant", name, "--tree", str(tree),
                                      "--urls-file", str(urls_file)], check=True, capture_output=True, text=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                if name in best:
                    result["load_seconds"] = min(result["load_seconds"], best[name]["load_seconds"])
                    result["urls_per_second"] = max(result["urls_per_second"], best[name]["urls_per_second"])
                best[name] = result
        results = [best["url_filter"], best["python_set"]]
    summary = {"domains": len(hosts), "categories": args.categories, "urls": len(cases), "variants": []}
    for result in results:
        reasons = result.pop("reasons")
        by_kind: dict[str, list[int]] = {}
        for (kind, _, expected), got in zip(cases, reasons):
            got = got.split(":", 1)[1] if got and got.startswith("url_filter:") else got
            right = by_kind.setdefault(kind, [0, 0])
            right[0] += got == expected
            right[1] += 1
        result["correct"] = {kind: f"{ok}/{n}" for kind, (ok, n) in by_kind.items()}
        summary["variants"].append(result)
    ours, peer = summary["variants"]
    summary["ratios"] = {"load_time": round(ours["load_seconds"] / peer["load_seconds"], 2),
                         "rss_growth": round(ours["rss_growth_mb"] / peer["rss_growth_mb"], 3),
                         "urls_per_second": round(ours["urls_per_second"] / peer["urls_per_second"], 2)}
    print(f"{'variant':<12} {'hosts':>10} {'load s':>7} {'RSS +MB':>8} {'peak +MB':>8} {'URLs/s':>9}  correct")
    for r in summary["variants"]:
        print(f"{r['variant']:<12} {r['hosts_loaded']:>10,} {r['load_seconds']:>7} {r['rss_growth_mb']:>8} "
              f"{r['peak_growth_mb']:>8} {r['urls_per_second']:>9,}  {r['correct']}")
    print("url_filter / python_set:", summary["ratios"])
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""opt_out's meta-robots scan and the PII finder on the worst pages we could build: seconds per MB at growing sizes,
for the code in this checkout and for the code at an earlier commit (`--before`), measured in the same run.

    python bench/pathological.py [--before 2427be7] [--budget 20] [--json OUT]

A shape is a page made to hit one path: one attribute of a megabyte, tags and quotes that never close, a megabyte of
`@`, digits or dots, ten thousands of e-mails (each of which the old finder compared with every span taken before).
Each runs at 4 KB, 16 KB, 64 KB, 256 KB and 1 MB; the best CPU time of `--repeats` runs counts. Linear code gives
the same seconds per MB at every size; quadratic code 4x more at each step. A size whose time, extrapolated as
quadratic from the size before, would pass `--budget` seconds is not run for the old code: its predicted seconds per
MB are shown in brackets (at 1 MB some would take hours). The old code is the module files `filters/opt_out.py` and
`filters/pii.py` as they were at `--before` (read with `git show`, loaded beside the current ones).

Asserts, for the current code: every shape runs at 1 MB within `--max-seconds-per-mb`, and its seconds per MB at
1 MB are at most `--max-growth` times those at 64 KB (a quadratic path gives 16).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]


def _fill(unit, size: int, head=None, tail=None):
    """`head`, `unit` repeated, `tail`: about `size` bytes (bytes for opt_out, text for pii)."""
    head, tail = head or unit[:0], tail or unit[:0]
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


def _emails(size: int) -> str:
    out, total, i = [], 0, 0
    while total < size:
        out.append(f"u{i}@example.com")
        total += len(out[-1]) + 1
        i += 1
    return " ".join(out)


# name -> (which core, the page of about `size` bytes)
SHAPES: dict[str, tuple[str, Callable[[int], bytes | str]]] = {
    "meta: one long attribute": ("opt_out", lambda n: _fill(b"a", n, b"robots<meta ", b">")),
    "meta: tags that never close": ("opt_out", lambda n: _fill(b"<meta ", n, b"robots")),
    "meta: names that never get a value": ("opt_out", lambda n: _fill(b"<meta name=", n, b"robots", b">")),
    "meta: a quote that never closes": ("opt_out", lambda n: _fill(b"x", n, b'robots<meta content="', b">")),
    "meta: many attributes": ("opt_out", lambda n: _fill(b"a=b ", n, b"robots<meta ", b">")),
    "meta: many robots tags": ("opt_out", lambda n: _fill(b'<meta name="robots" content="noai">', n)),
    "meta: '<' flood": ("opt_out", lambda n: _fill(b"<", n, b"robots")),
    "pii: e-mails": ("pii", _emails),
    "pii: '@' flood": ("pii", lambda n: _fill("@", n)),
    "pii: digits": ("pii", lambda n: _fill("7", n)),
    "pii: dots": ("pii", lambda n: _fill(".", n)),
    "pii: digits and dots": ("pii", lambda n: _fill("1.", n)),
    "pii: dotted quads": ("pii", lambda n: _fill("93.184.216.34 ", n)),
    "pii: a domain that never ends": ("pii", lambda n: _fill("a.", n, "x@")),
    "pii: local@ runs": ("pii", lambda n: _fill("a@b.", n)),
    "pii: (at) (dot) marks": ("pii", lambda n: _fill("x (at) y (dot) ", n)),
    "pii: digits between spaces": ("pii", lambda n: _fill("1 ", n)),
    "pii: cards": ("pii", lambda n: _fill("4111 1111 1111 1111, ", n)),
    "pii: phone numbers": ("pii", lambda n: _fill("(415) 555-2671, ", n)),
    "pii: digit groups (no phones)": ("pii", lambda n: _fill("123 4567 ", n)),
    "pii: colons (IPv6)": ("pii", lambda n: _fill("a:", n)),
    "pii: e-mails between DOIs": ("pii", lambda n: _fill("10.1000/182 u1@example.com ", n)),
}


def load_module(name: str, source: str):
    """`source` imported as module `name` (the file is gone once it is loaded)."""
    with tempfile.TemporaryDirectory(prefix="pathological-") as folder:
        path = Path(folder) / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return module


def cores(before: str | None) -> dict[str, dict[str, Callable]]:
    """{"after"/"before": {"opt_out": page -> directives, "pii": text -> spans}}."""
    from curate.filters import opt_out, pii

    out = {"after": {"opt_out": lambda page, m=opt_out: m.meta_directives(page, m.AI_AGENTS),
                     "pii": pii.PiiFinder().find}}
    if before:
        def old(path: str):
            return subprocess.run(["git", "-C", str(ROOT), "show", f"{before}:{path}"], check=True,
                                  capture_output=True, text=True).stdout

        old_opt_out = load_module("before_opt_out", old("filters/opt_out.py"))
        old_pii = load_module("before_pii", old("filters/pii.py"))
        out["before"] = {"opt_out": lambda page: old_opt_out.meta_directives(page, old_opt_out.AI_AGENTS),
                         "pii": old_pii.PiiFinder().find}
    return out


def seconds(function: Callable, page, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        function(page)
        best = min(best, time.process_time() - started)
    return best


def measure(function: Callable, make: Callable, budget: float, repeats: int) -> list[dict]:
    """Seconds (and per MB) at each size; sizes predicted past `budget` (quadratic extrapolation) are skipped."""
    rows, last = [], None
    for size in SIZES:
        page = make(size)
        mb = len(page.encode() if isinstance(page, str) else page) / (1 << 20)
        predicted = last[1] * (mb / last[0]) ** 2 if last is not None else 0.0
        if predicted > budget:
            rows.append({"size": size, "predicted_seconds_per_mb": round(predicted / mb, 1)})
            last = (mb, predicted)
            continue
        spent = seconds(function, page, repeats if last is None or last[1] < budget / 10 else 1)
        rows.append({"size": size, "seconds": round(spent, 5), "seconds_per_mb": round(spent / mb, 4)})
        last = (mb, spent)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="2427be7", help="the commit whose filters are 'before' ('' for none)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds a run may be predicted to take")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-seconds-per-mb", type=float, default=15.0)
    parser.add_argument("--max-growth", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    implementations = cores(args.before or None)
    results: dict = {"before": args.before, "load_before": os.getloadavg(), "shapes": {}}
    failures = []
    header = "shape".ljust(38) + "".join(f"{s >> 10:>9} KB" for s in SIZES) + "   (seconds per MB)"
    for side, functions in implementations.items():
        print(f"\n{side}\n{header}")  # (N): predicted, not run
        for name, (core, make) in SHAPES.items():
            # the current code runs every size: its figure at 1 MB is what is asserted
            rows = measure(functions[core], make, args.budget if side == "before" else float("inf"), args.repeats)
            results["shapes"].setdefault(name, {})[side] = rows
            cells = "".join(f"{r['seconds_per_mb']:>12.3f}" if "seconds" in r else
                            f"{'(' + format(r['predicted_seconds_per_mb'], ',.0f') + ')':>12}" for r in rows)
            print(name.ljust(38) + cells, flush=True)
            if side == "after":
                at = {r["size"]: r for r in rows}
                last, mid = at[1 << 20], at[64 << 10]
                if "seconds" not in last or last["seconds_per_mb"] > args.max_seconds_per_mb:
                    failures.append(f"{name}: {last} per MB at 1 MB")
                elif last["seconds_per_mb"] > args.max_growth * max(mid["seconds_per_mb"], 1e-3):
                    failures.append(f"{name}: {last['seconds_per_mb']} s/MB at 1 MB, {mid['seconds_per_mb']} at 64 KB")
    results["load_after"] = os.getloadavg()
    print(f"\nload average {results['load_before']} -> {results['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if failures:
        sys.exit("not linear or too slow: " + "; ".join(failures))


if __name__ == "__main__":
    main()

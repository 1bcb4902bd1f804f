#!/usr/bin/env python3
"""Turns the JSON lines of one bench/run.sh run into one markdown table.

    python3 bench/table.py RESULTS.jsonl > target/bench-table.md

Each line: {"row", "system", and ns_per_op | ms + requests | skipped | error | timed_out}.
The ratio column compares each system with latchkey's line of the same row: for time rows,
how many times slower the peer is (peer / latchkey); for stampede rows, IdP token requests.
"""

from __future__ import annotations

import json
import sys


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:,.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.2f} µs"
    return f"{ns:,.1f} ns"


def cell(r: dict) -> str:
    if r.get("skipped"):
        return f"skipped: {r['skipped']}"
    if r.get("error"):
        return f"error: {r['error']}"
    if r.get("timed_out"):
        extra = f", {r['requests']} IdP requests before the limit" if "requests" in r else ""
        return f"timed out{extra}"
    if "ns_per_op" in r:
        return f"{fmt_ns(r['ns_per_op'])}/op"
    parts = []
    if "ms" in r:
        parts.append(f"{r['ms']:,.1f} ms")
    if "requests" in r:
        parts.append(f"{r['requests']} IdP request{'s' if r['requests'] != 1 else ''}")
    if r.get("errors"):
        parts.append(f"{r['errors']} failed callers")
    if "rss_mb" in r:
        parts.append(f"peak RSS {r['rss_mb']:.1f} MiB")
    return ", ".join(parts)


def ratio(r: dict, base: dict | None) -> str:
    if base is None or r is base:
        return "1×" if r is base and not (r.get("skipped") or r.get("error") or r.get("timed_out")) else "–"
    if r.get("skipped") or r.get("error") or base.get("skipped") or base.get("error"):
        return "–"
    if r.get("timed_out"):
        return "timed out"
    if "ns_per_op" in r and "ns_per_op" in base and base["ns_per_op"] > 0:
        x = r["ns_per_op"] / base["ns_per_op"]
        return f"{x:,.1f}× slower" if x >= 1 else f"{1 / x:,.2f}× faster"
    if "requests" in r and "requests" in base and "stampede" in r["row"]:
        return f"{r['requests']} vs {base['requests']} requests"
    if "ms" in r and "ms" in base and base["ms"] > 0:
        return f"{r['ms'] / base['ms']:,.1f}× slower"
    return "–"


def main() -> None:
    rows: dict[str, list[dict]] = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        rows.setdefault(r["row"], []).append(r)
    print("| measurement | system | result | vs latchkey | notes |")
    print("|---|---|---|---|---|")
    for row, results in rows.items():
        base = next((r for r in results if r["system"] == "latchkey"), None)
        results.sort(key=lambda r: (r["system"] != "latchkey", r["system"]))
        for r in results:
            print(f"| {row} | {r['system']} | {cell(r)} | {ratio(r, base)} | {r.get('note', '')} |")


if __name__ == "__main__":
    main()

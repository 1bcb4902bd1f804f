#!/usr/bin/env python3
"""Turns the JSON lines of one bench/redis_scale.sh run into one markdown table.

    python3 bench/redis_scale_table.py RESULTS.jsonl > target/redis-scale.md

Lines come from `latchkey-redis-scale` (measure: tokens, handover, load) and from the
`session_lookup` bench of latchkey-axum (measure: session). One row per store; a cell is
"–" where a measure does not apply. docs/bench.md ("Redis at scale") explains the columns.
"""

from __future__ import annotations

import json
import sys

ROWS = ["none (route without a session)", "memory", "file", "sqlite", "redis", "redis-cluster"]
COLUMNS = [
    "store",
    "IdP token requests per key per expiry",
    "expiries per key",
    "password grants per key",
    "lock hand-over p50",
    "lock hand-over p99",
    "`load` per second",
    "session lookup p50",
    "session lookup p99",
    "session lookups per second",
]


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.2f} ms" if value < 10 else f"{value:,.1f} ms"


def us(value: float) -> str:
    return f"{value:,.1f} µs" if value < 1000 else f"{value / 1000:,.2f} ms"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def token_cells(r: dict) -> list[str]:
    if "error" in r:
        return [f"error: {r['error']}", "–", "–"]
    expiries, refresh = r["expiries"], r["idp_refresh"]
    per_expiry = f"{refresh / expiries:.2f} ({refresh} / {expiries})" if expiries else "no expiry"
    if r["errors"]:
        per_expiry += f"; {r['errors']} caller errors, first: {r['first_error']}"
    low, high = r["expiries_per_key"]
    spread = f"{low}" if low == high else f"{low}–{high}"
    grants = f"{r['idp_password'] / r['keys']:.2f} ({r['idp_password']} / {r['keys']})"
    return [per_expiry, spread, grants]


def handover_cells(r: dict) -> list[str]:
    if "error" in r:
        return [f"error: {r['error']}", "–"]
    p50 = ms(r["p50_ms"])
    p99 = f"{ms(r['p99_ms'])} (n = {r['handovers']})"
    if r["overlaps"] or r["errors"]:
        p99 += f"; {r['overlaps']} overlaps, {r['errors']} errors"
    return [p50, p99]


def main(path: str) -> None:
    by_store: dict[str, dict[str, dict]] = {}
    extra: list[str] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            by_store.setdefault(r["store"], {})[r["measure"]] = r
            if r["store"] not in ROWS and r["store"] not in extra:
                extra.append(r["store"])
    tokens = next((m["tokens"] for m in by_store.values() if "tokens" in m and "keys" in m["tokens"]), None)
    if tokens:
        print(
            f"{tokens['processes']} processes × {tokens['keys']} keys × {tokens['tasks_per_key']} "
            f"callers per key and process, {tokens['seconds']} s, access tokens living "
            f"{tokens['token_ttl_s']} s, refresh margin {tokens['margin_ms']} ms"
        )
        print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for store in ROWS + extra:
        m = by_store.get(store)
        if not m:
            continue
        cells = [store]
        cells += token_cells(m["tokens"]) if "tokens" in m else ["–"] * 3
        cells += handover_cells(m["handover"]) if "handover" in m else ["–"] * 2
        load = m.get("load")
        if load:
            failed = f" ({load['failures']} loads failed)" if load["failures"] else ""
            cells.append(rate(load["per_second"]) + failed)
        else:
            cells.append("–")
        session = m.get("session")
        if session:
            cells += [us(session["p50_us"]), us(session["p99_us"]), rate(session["per_second"])]
        else:
            cells += ["–"] * 3
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])

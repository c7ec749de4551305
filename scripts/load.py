#!/usr/bin/env python3
"""Bounded load against a hubstats server on the loopback interface (see scripts/load).

N connections (threads, keep-alive) for a fixed time mix dashboard pages, API calls and CSV
downloads; with --login-flood, M more threads post wrong passwords as fast as they are
answered. Prints one JSON object: counts, errors and latency percentiles per kind.
Refuses any host but 127.0.0.1 / localhost / ::1, and stops by itself.
"""

import argparse
import http.client
import json
import multiprocessing
import random
import threading
import time
import urllib.parse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


class Worker(threading.Thread):
    def __init__(self, host, port, deadline, pick, results, lock, spread_sources=False):
        super().__init__(daemon=True)
        self.host, self.port, self.deadline = host, port, deadline
        self.pick, self.results, self.lock = pick, results, lock
        self.spread_sources = spread_sources
        self.conn = None
        self.rng = random.Random()

    def request(self, method, path, headers, body=None):
        if self.conn is None:
            source = None
            if self.spread_sources:
                # Each flood connection from its own loopback address (127.0.0.0/8), so the
                # per-address sign-in limit does not stop the flood before it reaches argon2.
                source = (f"127.{self.rng.randrange(1, 255)}.{self.rng.randrange(256)}."
                          f"{self.rng.randrange(1, 255)}", 0)
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120,
                                                   source_address=source)
        self.conn.request(method, path, body=body, headers=headers)
        res = self.conn.getresponse()
        size = 0
        while True:
            chunk = res.read(65536)
            if not chunk:
                break
            size += len(chunk)
        if res.getheader("connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return res.status, size

    def run(self):
        rng = random.Random(id(self))
        while time.monotonic() < self.deadline:
            kind, method, path, headers, body, ok = self.pick(rng)
            started = time.monotonic()
            try:
                status, size = self.request(method, path, headers, body)
                error = None if status in ok else f"status {status}"
            except Exception as e:  # a refused or reset connection is an error to count
                error, size = type(e).__name__, 0
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
            elapsed = time.monotonic() - started
            with self.lock:
                r = self.results.setdefault(kind, {"latency": [], "errors": {}, "bytes": 0})
                r["latency"].append(elapsed)
                r["bytes"] += size
                if error:
                    r["errors"][error] = r["errors"].get(error, 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--org", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--csv-share", type=float, default=0.05)
    ap.add_argument("--login-flood", type=int, default=0, help="extra threads posting bad sign-ins")
    args = ap.parse_args()
    if args.host not in LOOPBACK:
        raise SystemExit("scripts/load only targets the loopback interface")
    if not 0 < args.seconds <= 600:
        raise SystemExit("--seconds must be between 0 and 600")

    base = f"/organizations/{args.org}/settings/publisher-analytics"
    api = f"/api/organizations/{args.org}/analytics"
    auth = {"Authorization": f"Bearer {args.token}"}
    html = dict(auth, Accept="text/html")
    queries = ["ll", "7b", "gguf", "data", "mistral", "wiki"]

    def pick_mixed(rng):
        if rng.random() < args.csv_share:
            return ("csv", "GET", f"{base}/download-breakdown", auth, None, {200})
        choice = rng.randrange(6)
        if choice == 0:
            return ("page", "GET", f"{base}?period=last-month", html, None, {200})
        if choice == 1:
            q = rng.choice(queries)
            return ("page", "GET", f"{base}?q={q}&fragment=table", html, None, {200})
        if choice == 2:
            return ("api", "GET", f"{api}?period=last-month", auth, None, {200})
        if choice == 3:
            page = rng.randrange(1, 20)
            return ("api", "GET", f"{api}/repos?period=90d&sort=downloads&page={page}", auth, None, {200})
        if choice == 4:
            q = rng.choice(queries)
            return ("api", "GET", f"{api}/repos?q={q}&period=all-time", auth, None, {200})
        return ("api", "GET", f"{api}/repos?period=365d&sort=change&order=asc", auth, None, {200})

    def pick_login(rng):
        user = f"flood{rng.randrange(1_000_000)}"
        body = urllib.parse.urlencode({"username": user, "password": "wrong", "csrf": "t"})
        headers = {
            "Cookie": "hubstats_login_csrf=t",
            "Content-Type": "application/x-www-form-urlencoded",
            "Connection": "close",
        }
        # A flood is answered 401 (checked), 429 (throttled) or 503 (hashing queue full).
        return ("login", "POST", "/login", headers, body, {401, 429, 503})

    deadline = time.monotonic() + args.seconds

    def run(pick, count, flood=False):
        results, lock = {}, threading.Lock()
        workers = [Worker(args.host, args.port, deadline, pick, results, lock, flood)
                   for _ in range(count)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=args.seconds + 180)
        return results

    # The flood runs in a process of its own: in this one its threads would hold the
    # interpreter lock and inflate the latencies measured for the mixed requests.
    flood, receiver = None, None
    if args.login_flood:
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        flood = ctx.Process(
            target=lambda: sender.send(run(pick_login, args.login_flood, True)))
        flood.start()
    results = run(pick_mixed, args.connections)
    if flood:
        results.update(receiver.recv())
        flood.join()

    summary = {}
    for kind, r in sorted(results.items()):
        lat = r["latency"]
        summary[kind] = {
            "requests": len(lat),
            "errors": r["errors"],
            "p50_ms": round(1000 * percentile(lat, 50), 1),
            "p99_ms": round(1000 * percentile(lat, 99), 1),
            "max_ms": round(1000 * max(lat), 1),
            "mib": round(r["bytes"] / 2**20, 1),
        }
    non_csv = [x for k, r in results.items() if k in ("page", "api") for x in r["latency"]]
    summary["non_csv_p99_ms"] = round(1000 * percentile(non_csv, 99), 1) if non_csv else None
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

"""HTTP throughput of one `inbox serve` process (issue 10): a bounded load loop on 127.0.0.1.

    python -m bench.http --store scale-100000.db [--connections 32] [--seconds 20]
                         [--only list conversation search searches]

Starts one real `inbox serve --role web` process against the SQLite store, gives the store's
first admin an API token (a bench store from `bench/scale.py` has the demo users), then, for
each endpoint (the inbox list, one conversation cycling through the first page's 50, and a
search with facets), runs `--connections` concurrent clients (aiohttp) for at most `--seconds`
and at most `--requests` requests; reports req/s, p50/p95/p99 latency, errors, the server's
and the client's CPU per request, the load average before and after, and the server's peak
RSS (VmHWM from /proc), then stops the server. Note the client shares the machine's cores
with the server. Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp

from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
QUERY = "refund"  # the issue's /api/search figure
FACETS = "channel,sentiment,lang"


CONVERSATION = "/api/conversations/{id}"  # cycles through the first page's conversations


# Varied searches (each request another query, so a store's reuse of a query's counts for
# a moment rarely helps): words of the demo's messages alone and with fields.
WORDS = ("refund", "broadband", "router", "signal", "bill", "invoice", "roaming", "contract",
         "upgrade", "outage", "engineer", "payment", "charged", "cancel", "porting", "sim",
         "data", "speed", "wifi", "complaint", "credit", "direct", "debit", "fibre", "hub",
         "abroad", "coverage", "delivery", "password", "account")
WITH = ("", " channel:x", " sentiment:negative", " channel:email -refund", " lang:en",
        " status:open", ' OR "no signal"')
SEARCHES = "/api/search?q=*varied*"


def endpoints(query: str) -> dict[str, str]:
    """The endpoints measured, by the name --only picks them with."""
    return {"list": "/api/conversations", "conversation": CONVERSATION,
            "search": f"/api/search?q={quote(query)}&facets={FACETS}",
            "searches": SEARCHES}


@dataclass
class Load:
    path: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]  # ms, of the successful requests
    server_cpu: float  # seconds of the server process during the loop
    client_cpu: float

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies) or [float("nan")]
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def row(self) -> str:
        return (f"| `GET {self.path}` | {self.requests:,} | {self.errors} | "
                f"{self.requests / self.seconds:,.1f} | {self.pct(0.5):,.0f} | "
                f"{self.pct(0.95):,.0f} | {self.pct(0.99):,.0f} | "
                f"{self.server_cpu * 1000 / max(1, self.requests):,.2f} | "
                f"{self.client_cpu * 1000 / max(1, self.requests):,.2f} |")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int, key: str) -> float:
    """A memory figure of process `pid` in MB (VmHWM: peak RSS, VmRSS: now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def admin_token(store_url: str) -> str:
    """A new API token of the store's first admin (what `inbox users token` does)."""
    runtime = Runtime(load_config(None, {"INBOX_STORE": store_url}), {}, channels=False)
    await runtime.start()
    try:
        admin = next((u for u in await runtime.accounts.users() if u.role == "admin"), None)
        if admin is None:
            sys.exit("the store has no admin user; build it with bench/scale.py or add one "
                     "with `inbox users add`")
        return await runtime.accounts.create_token(admin.email, days=1, label="bench.http")
    finally:
        await runtime.aclose()


def start_server(store_url: str, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "INBOX_STORE": store_url, "PYTHONPATH": str(ROOT)}
    env.pop("INBOX_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "inbox.app.cli", "serve", "--role", "web", "--host",
         "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        sys.exit(f"inbox serve did not start: {line}{proc.stdout.read()[-2000:]}")
    return proc


async def paths(session: aiohttp.ClientSession, path: str) -> list[str]:
    """The URLs a load loop requests: `path`, for CONVERSATION the first page's ones, for
    SEARCHES every word with every addition (210 queries)."""
    if path == SEARCHES:
        return [f"/api/search?q={quote(w + more)}&facets={FACETS}"
                for more in WITH for w in WORDS]
    if path != CONVERSATION:
        return [path]
    async with session.get("/api/conversations?limit=50") as response:
        page = await response.json()
    return ([path.format(id=c["id"]) for c in page["conversations"]]
            or sys.exit("the store has no conversations"))


async def load(base: str, token: str, path: str, connections: int, seconds: float,
               most: int, pid: int) -> Load:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors, sent = [0], [0]
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector,
                                     timeout=timeout) as session:
        urls = await paths(session, path)
        for url in urls[:50]:  # the first request opens the store's readers
            async with session.get(url) as warm:
                await warm.read()
                if warm.status != 200:
                    sys.exit(f"GET {url}: HTTP {warm.status}")
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline and sent[0] < most:
                url = urls[sent[0] % len(urls)]
                sent[0] += 1
                t = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - t) * 1000)
                else:
                    errors[0] += 1

        server, mine = proc_cpu(pid), time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        took = time.perf_counter() - start
    return Load(path, sent[0], errors[0], took, latencies, proc_cpu(pid) - server,
                time.process_time() - mine)


async def bench(args: argparse.Namespace) -> None:
    store = Path(args.store)
    if not store.exists():
        sys.exit(f"{store} does not exist; build one with python -m bench.scale")
    url = f"sqlite:///{store.resolve()}"
    load_before = os.getloadavg()[0]
    token = await admin_token(url)
    port = free_port()
    proc = start_server(url, port)
    results: list[Load] = []
    try:
        start_rss = proc_status(proc.pid, "VmRSS")
        for name, path in endpoints(args.query).items():
            if args.only and name not in args.only:
                continue
            result = await load(f"http://127.0.0.1:{port}", token, path, args.connections,
                                args.seconds, args.requests, proc.pid)
            results.append(result)
            print(f"  GET {path}: {result.requests:,} requests in {result.seconds:.1f} s = "
                  f"{result.requests / result.seconds:,.1f} req/s, p50 {result.pct(0.5):,.0f}"
                  f" p95 {result.pct(0.95):,.0f} p99 {result.pct(0.99):,.0f} ms, "
                  f"{result.errors} errors; server CPU {result.server_cpu:.1f} s, client "
                  f"{result.client_cpu:.1f} s", file=sys.stderr)
        peak = proc_status(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    print(f"\nHTTP: one `inbox serve --role web` on {store}, {args.connections} connections, "
          f"at most {args.seconds:g} s and {args.requests:,} requests per endpoint; "
          f"{os.cpu_count()} cores, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after; server RSS "
          f"{start_rss:,.0f} MB at start, peak {peak:,.0f} MB\n")
    print("| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | "
          "server CPU ms/req | client CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="a SQLite store file (bench/scale.py)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=float, default=20.0, help="per endpoint, at most")
    p.add_argument("--requests", type=int, default=20_000, help="per endpoint, at most")
    p.add_argument("--query", default=QUERY, help="the search of /api/search")
    p.add_argument("--only", nargs="+", choices=("list", "conversation", "search", "searches"),
                   help="only these endpoints (default: all)")
    asyncio.run(bench(p.parse_args(argv)))


if __name__ == "__main__":
    main()

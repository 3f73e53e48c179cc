"""How many requests per second can raylife's clients send? Against `wrk` on a no-op Ray Serve endpoint.

    python benchmarks/client_capacity.py [--connections 8 32] [--duration 5] [--rounds 3]

Deploys a Serve deployment that answers every POST with a constant JSON (no model), then alternates, per round and
connection count: `wrk` (Debian package `wrk`, a C client with a Lua POST script), raylife's asyncio client
(`clients/open_loop.py`, which drives `[load]`), and raylife's thread-per-client `http.client` loop (the closed
loop of `[serve]`). Reports each one's answers per second (median over rounds) and the ratio to wrk's. On one
machine every client competes with Serve's proxy for the same cores, as it would in a real single-node benchmark.

Serve's proxy saturates first on a small machine, which hides the clients' own limits; ``--plain`` repeats the
comparison against a bare aiohttp server (one process, no Ray), and then checks that the open-loop client keeps
its schedule (send lag p99) at rising offered rates against it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BODY = b'{"inputs": [[0.0]]}'


def wrk_rps(url: str, connections: int, duration_s: float) -> float:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = \'%s\'\nwrk.headers["Content-Type"] = "application/json"\n'
                      % BODY.decode())
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration_s:g}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk saw errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))


def threaded_rps(url: str, connections: int, duration_s: float) -> float:
    from raylife.clients.http_client import JsonClient
    from raylife.clients.loadgen import Outcome, closed_loop

    client = JsonClient(url, 30)

    def send(seq: int) -> Outcome:
        status, _ = client.post(BODY)
        return Outcome(ok=status == 200, error=None if status == 200 else f"HTTP {status}")

    samples = closed_loop(send, connections, duration_s=duration_s)
    client.close()
    return float(samples.ok.sum() / samples.wall_s)


PLAIN_SERVER = """
import sys, asyncio
from aiohttp import web
async def handle(request):
    await request.read()
    return web.json_response({"ok": 1})
app = web.Application()
app.router.add_post("/noop", handle)
try:
    import uvloop; uvloop.install()
except ImportError:
    pass
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def compare(url: str, connections_list: list[int], duration_s: float, rounds: int) -> None:
    from raylife.clients.open_loop import closed_loop_rate

    print(f"{'conns':>6} {'wrk':>8} {'asyncio':>8} {'threads':>8} {'asyncio/wrk':>12} {'threads/wrk':>12}")
    for connections in connections_list:
        runs: dict[str, list[float]] = {"wrk": [], "asyncio": [], "threads": []}
        for _ in range(rounds):
            runs["wrk"].append(wrk_rps(url, connections, duration_s))
            rate, failed = closed_loop_rate(url, BODY, connections, duration_s)
            assert failed == 0, f"{failed} failed requests"
            runs["asyncio"].append(rate)
            runs["threads"].append(threaded_rps(url, connections, duration_s))
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(f"{connections:>6} {med['wrk']:>8.0f} {med['asyncio']:>8.0f} {med['threads']:>8.0f} "
              f"{med['asyncio'] / med['wrk']:>12.2f} {med['threads'] / med['wrk']:>12.2f}   "
              + "; ".join(f"{k} {', '.join(f'{x:.0f}' for x in v)}" for k, v in runs.items()))


def schedule_check(url: str, rates: list[float], duration_s: float) -> None:
    import numpy as np

    from raylife.clients.loadgen import Outcome
    from raylife.clients.open_loop import run_schedule, schedule

    print(f"{'offered/s':>10} {'sent':>6} {'achieved/s':>11} {'lag p50':>8} {'lag p99':>8} {'p50 ms':>7} {'schedule':>9}")
    for rate in rates:
        res = run_schedule(url, [BODY], lambda seq, answer: Outcome(ok=True), schedule(rate, duration_s, "poisson"),
                           timeout_s=30, duration_s=duration_s)
        ok = res.samples.ok
        print(f"{rate:>10g} {len(ok):>6} {ok.sum() / max(duration_s, res.samples.wall_s):>11.0f} "
              f"{np.percentile(res.lag_ms, 50):>6.2f}ms {np.percentile(res.lag_ms, 99):>6.2f}ms "
              f"{np.percentile(res.samples.latencies, 50):>7.2f} {'behind' if res.behind else 'kept':>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8012)
    parser.add_argument("--plain", action="store_true", help="against a bare aiohttp server instead of Ray Serve")
    parser.add_argument("--rates", type=float, nargs="+", default=[250, 500, 1000, 2000],
                        help="offered rates for the schedule check (with --plain)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs the `wrk` HTTP benchmark: apt-get install wrk")

    if args.plain:
        port = args.port + 1
        server = subprocess.Popen([sys.executable, "-c", PLAIN_SERVER, str(port)])
        url = f"http://127.0.0.1:{port}/noop"
        try:
            import time
            import urllib.request

            for _ in range(100):
                try:
                    urllib.request.urlopen(urllib.request.Request(url, data=BODY), timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            print(f"bare aiohttp server {url} (one process), {args.duration:g} s per measurement, {args.rounds} rounds")
            compare(url, args.connections, args.duration, args.rounds)
            schedule_check(url, args.rates, args.duration)
        finally:
            server.terminate()
        return

    import ray
    from ray import serve

    @serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=1000)
    class NoOp:
        async def __call__(self, request) -> dict:
            await request.body()
            return {"ok": 1}

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(NoOp.bind(), name="noop", route_prefix="/noop")
    url = f"http://127.0.0.1:{args.port}/noop"
    try:
        wrk_rps(url, 8, 1.0)  # warm up the proxy and the replica
        print(f"no-op Serve endpoint {url}, {args.duration:g} s per measurement, {args.rounds} rounds (answers/s)")
        compare(url, args.connections, args.duration, args.rounds)
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()

"""Does raylife's load generator measure what an independent HTTP client measures?

    python benchmarks/serve_latency_crosscheck.py [--requests 400] [--rounds 3] [--concurrency 1 4]
    python benchmarks/serve_latency_crosscheck.py --open-loop 10 30 [--duration 10] [--rounds 3]

Deploys cnn_small (PyTorch, state_dict) on an embedded Ray Serve with raylife's own deploy stage, then, for each
concurrency, alternates raylife's closed-loop client and `hey` (https://github.com/rakyll/hey, Debian package
`hey`) against the same URL with the same request body, and compares the p50 latencies (median over rounds).

``--open-loop RATE ...`` compares raylife's open-loop client (``clients/open_loop.py``: the one the load sweep, live
updates and the replica-fault window use) at each offered rate against ``hey -q RATE -c 1 -z DURATION`` (one worker
sending RATE requests per second): raylife with a fixed interval (hey's own) and with Poisson arrivals, p50 from the
scheduled send time. Each round runs the three back to back, and the headline is the median over rounds of each
round's difference to hey: the host's drift between rounds (seconds apart) cancels out.
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SUITE = """
name = "crosscheck"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[serve]
port = {port}
batch_sizes = [1]
"""


def hey_p50_ms(url: str, body: Path, requests: int, concurrency: int) -> float:
    out = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST", "-T", "application/json", "-D", str(body), url],
        capture_output=True, text=True, check=True,
    ).stdout
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out.split("Status code distribution:")[-1]))
    if set(statuses) != {"200"} or int(statuses["200"]) != requests:
        sys.exit(f"hey saw answers other than {requests} x 200: {statuses}\n{out}")
    return float(re.search(r"50%+ in ([0-9.]+) secs", out).group(1)) * 1000


def hey_rate_p50_ms(url: str, body: Path, rate: float, duration_s: float) -> tuple[float, int]:
    out = subprocess.run(
        ["hey", "-z", f"{duration_s:g}s", "-c", "1", "-q", f"{rate:g}", "-m", "POST", "-T", "application/json",
         "-D", str(body), url], capture_output=True, text=True, check=True,
    ).stdout
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out.split("Status code distribution:")[-1]))
    if set(statuses) != {"200"}:
        sys.exit(f"hey saw answers other than 200: {statuses}\n{out}")
    return float(re.search(r"50%+ in ([0-9.]+) secs", out).group(1)) * 1000, int(statuses["200"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--open-loop", type=float, nargs="*", default=None, metavar="RATE",
                        help="compare the open-loop client at these offered rates (requests/s) instead")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per open-loop measurement")
    args = parser.parse_args()
    if shutil.which("hey") is None:
        sys.exit("needs the `hey` HTTP load generator: apt-get install hey")

    import ray

    from raylife.frameworks import FRAMEWORKS
    from raylife.frameworks.model import Recipe
    from raylife.clients.http_client import JsonClient
    from raylife.clients.loadgen import closed_loop
    from raylife.measure.stats import latency_summary
    from raylife.plan import plan_trials
    from raylife.records import TrialRecord
    from raylife.stages import STAGES, TrialContext
    from raylife.serving import control as sc
    from raylife.clients.requests import RequestSet, http_sender
    from raylife.artifacts import Location
    from raylife.suite import parse_suite

    tmp = Path(tempfile.mkdtemp())
    backend = FRAMEWORKS.get("torch").load_backend()
    recipe = Recipe(builder="raylife.workloads.vision.torch_models:cnn_small", input_shape=(8, 8, 1), num_classes=10,
                    options={"width": 16}, framework="torch", model="cnn_small")
    model_dir = tmp / "state_dict"
    model_dir.mkdir()
    backend.formats["state_dict"].save(backend.build_model(recipe), model_dir, np.zeros((1, 8, 8, 1), np.float32), recipe)

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    sc.start_serve("127.0.0.1", args.port, check_port=True)
    trial = plan_trials(parse_suite(SUITE.format(port=args.port)))[0]
    ctx = TrialContext(trial=trial, record=TrialRecord(run_id="crosscheck", trial=trial), storage=Location.parse(tmp))
    ctx.artifacts.models = {"state_dict": str(model_dir)}
    try:
        STAGES.get("deploy")().run(ctx)
        deployment, data = ctx.artifacts.need("app"), ctx.artifacts.need("serving_data")
        requests = RequestSet(data.x[:1], data.y[:1], data.offline_pred[:1], 1)  # one body, as hey sends
        body = tmp / "body.json"
        body.write_bytes(requests.bodies[0])
        if args.open_loop:
            from raylife.clients.open_loop import OpenLoopClient, schedule

            def ours(rate: float, arrival: str, seed: int) -> float:
                client = OpenLoopClient(deployment.url, requests.bodies, requests.check, timeout_s=30)
                res = client.run(schedule(rate, args.duration, arrival, seed=seed), args.duration)
                assert res.samples.ok.all(), res.samples.errors()
                return latency_summary(res.samples.latencies)["p50_ms"]

            print(f"{deployment.url}, batch 1, open loop, {args.duration:g} s per measurement, {args.rounds} rounds; "
                  "each round runs hey, raylife uniform and raylife Poisson back to back (order rotating), and the "
                  "headline is the median of the rounds' paired differences")
            print(f"{'rate/s':>7} {'hey p50':>9} {'uniform p50':>12} {'poisson p50':>12} {'uniform':>8} {'poisson':>8}")
            for rate in args.open_loop:
                runs: dict[str, list[float]] = {"hey": [], "uniform": [], "poisson": []}
                for r in range(args.rounds):
                    order = ["hey", "uniform", "poisson"]
                    for name in order[r % 3:] + order[: r % 3]:
                        runs[name].append(hey_rate_p50_ms(deployment.url, body, rate, args.duration)[0] if name == "hey"
                                          else ours(rate, name, seed=r))
                med = {k: statistics.median(v) for k, v in runs.items()}
                paired = {k: statistics.median((a - b) / b for a, b in zip(runs[k], runs["hey"]))
                          for k in ("uniform", "poisson")}
                print(f"{rate:>7g} {med['hey']:>6.2f} ms {med['uniform']:>9.2f} ms {med['poisson']:>9.2f} ms "
                      f"{100 * paired['uniform']:>+7.1f}% {100 * paired['poisson']:>+7.1f}%   ("
                      + "; ".join(f"{k} {', '.join(f'{v:.2f}' for v in vals)}" for k, vals in runs.items()) + ")")
            return
        print(f"{deployment.url}, batch 1, {args.requests} requests per measurement, {args.rounds} rounds")
        print(f"{'clients':>8} {'raylife p50':>12} {'hey p50':>9} {'difference':>11}")
        for concurrency in args.concurrency:
            ours, theirs = [], []
            for _ in range(args.rounds):
                client = JsonClient(deployment.url, 30)
                samples = closed_loop(http_sender(requests, client), concurrency, requests=args.requests, warmup=20)
                client.close()
                assert samples.ok.all(), samples.errors()
                ours.append(latency_summary(samples.latencies)["p50_ms"])
                theirs.append(hey_p50_ms(deployment.url, body, args.requests, concurrency))
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"{concurrency:>8} {a:>9.2f} ms {b:>6.2f} ms {100 * (a - b) / b:>+10.1f}%   "
                  f"(raylife {', '.join(f'{v:.2f}' for v in ours)}; hey {', '.join(f'{v:.2f}' for v in theirs)})")
    finally:
        ctx.close()
        ray.shutdown()


if __name__ == "__main__":
    main()

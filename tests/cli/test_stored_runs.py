"""show, compare, choose and report on runs written through ``Store`` into a real DuckDB file (tests/stored_runs.py):
the readers' logic on every case, in seconds. One end-to-end test of each on a real run: tests/ray/."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime

import pytest
from typer.testing import CliRunner

from raylife.cli import app
from raylife.measure.environment import Fingerprint
from tests.stored_runs import MACHINE, SERVED, write_run

BASE, WIDE, RERUN = "20261201-100000-aaaa", "20261201-110000-bbbb", "20261201-120000-cccc"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A model (two repeats), the same architecture 8x as wide (its bytes, FLOPs and latencies 8x), and a rerun of
    the first under another suite name."""
    db = tmp_path_factory.mktemp("stored") / "runs.duckdb"
    write_run(db, BASE, width=8, submitted_at=datetime(2026, 12, 1, 10))
    write_run(db, WIDE, name="wide", width=64, scale=8.0, submitted_at=datetime(2026, 12, 1, 11))
    write_run(db, RERUN, width=8, submitted_at=datetime(2026, 12, 1, 12))
    return db


def test_compare_flags_a_wider_model(runs):
    slower = invoke("compare", BASE, WIDE, "--db", runs, "--match", "model", "--fail-on-regression", "-f", "json")
    assert slower.exit_code == 1, slower.output
    verdicts = {(c["stage"], c["metric"], c["labels"]): c["verdict"] for c in json.loads(slower.stdout)}
    assert verdicts[("persist", "bytes", "format=state_dict native=True")] == "regression"  # more weights to store
    assert verdicts[("model", "flops_per_sample", "counted_by=torch")] == "regression"
    assert verdicts[("load", "goodput_rps", "arrival=poisson batch_size=1 offered_rps=40 slo_p99_ms=100")] == "regression"
    assert verdicts[("serve", "p99_ms", "batch_size=1 concurrency=1 path=http")] == "regression"
    assert verdicts[("evaluate", "baseline_accuracy", "baseline=majority class split=test")] == "same"
    assert "regressions beyond noise" in slower.stderr and "cnn_small[width=64]/torch/w1" in slower.stderr
    table = invoke("compare", BASE, WIDE, "--db", runs, "--match", "model")
    assert table.exit_code == 0 and "regression" in table.stdout
    assert "152.8 KiB" in table.stdout and "1.2 MiB" in table.stdout  # sizes in the one (binary) convention


def test_compare_does_not_flag_a_rerun(runs):
    rerun = invoke("compare", BASE, RERUN, "--db", runs, "--fail-on-regression")
    assert rerun.exit_code == 0, rerun.output
    assert " 0 regressions" in rerun.stdout and "within noise" in rerun.stdout


def test_compare_names_what_it_cannot_match(runs):
    unmatched = invoke("compare", BASE, WIDE, "--db", runs)  # names differ (width=8 vs 64): nothing in common
    assert unmatched.exit_code == 1 and "share no trial and metric" in unmatched.stderr
    assert "pair trials by model with --match model" in unmatched.stderr
    missing = invoke("compare", "nope", WIDE, "--db", runs)
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: no run 'nope'")
    bad = invoke("compare", BASE, WIDE, "--db", runs, "--metric", "latency")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: no metric 'latency' in either run")


def test_choose_ranks_across_runs_and_names_the_limits_broken(runs):
    result = invoke("choose", BASE, WIDE, "--db", runs, "--max", "p99_ms=10ms", "--max", "bytes=1MiB",
                    "--by", "max_rps_at_slo")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "1 trial meets every limit" in out and "★" in out
    assert re.search(r"1\s+20261201-100000-aaaa\s+cnn_small\[width=8\]/torch/w1", out)
    assert "152.8 KiB" in out  # the native size, in binary units
    assert "do not qualify" in out and "p99_ms_small" in out and "native_bytes" in out
    rows = json.loads(invoke("choose", BASE, WIDE, "--db", runs, "--max", "p99_ms=10ms", "-f", "json").stdout)
    assert [(r["trial"], r["meets"], r["repeats"]) for r in rows] == [
        ("cnn_small[width=8]/torch/w1", True, 2), ("cnn_small[width=64]/torch/w1", False, 2)]
    assert rows[1]["broken"].startswith("p99_ms_small ") and "> 10 ms" in rows[1]["broken"]


def test_choose_calls_a_percentile_limit_only_on_enough_answers(runs):
    # MLPerf's early stopping on the raw answers: the smallest cell's 480 answers (two repeats) back a p99 within 10 ms
    # at 99% confidence; the p50 of the largest cell rests on 80 (enough for a median: 7), its p99 on too few (459)
    rows = json.loads(invoke("choose", BASE, "--db", runs, "--max", "p99_ms_large=1s", "-f", "json").stdout)
    assert [(r["meets"], r["broken"]) for r in rows] == [
        (False, "p99_ms_large undecided: 80 answers (0 over 1000 ms), 459 needed at 99% confidence")]
    rows = json.loads(invoke("choose", BASE, "--db", runs, "--max", "p50_ms_large=1s", "--max", "p99_ms=1s",
                             "-f", "json").stdout)
    assert [r["meets"] for r in rows] == [True]


def test_show_prints_the_run_with_intervals_sizes_and_where_the_time_went(runs):
    result = invoke("show", BASE, "--db", runs)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("run 20261201-100000-aaaa · suite served · ok · 2 trials", "152.8 KiB", "deployment on Ray Serve",
                 "latency · cnn_small[width=8]/torch/w1", "~ thin", "open-loop load (poisson)",
                 "max_rps_at_slo 40 req/s at p99 ≤ 100 ms", "over repeats", "median ± 95%", "where the time went",
                 "Ray start-up 3.0 s + Serve start-up 2.5 s"):
        assert text in out, text
    stages = re.search(r"trial\s+(train.*)trial wall", out).group(1).split()
    assert stages == ["train", "evaluate", "persist", "retrain", "deploy", "serve", "load", "update", "teardown",
                      "overhead"]  # the lifecycle's one order


def test_report_renders_a_stored_run_and_escapes_what_it_did_not_write(runs, tmp_path):
    from raylife.report.html import gather, render
    from raylife.store import Store

    out = tmp_path / "report.html"
    result = invoke("report", BASE, "--db", runs, "-o", out)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    # latency vs batch size and vs concurrency, vs offered rate, accuracy over training time, the two updates'
    # timelines, where the time went, the Pareto front
    assert page.count('<section class="plot">') == int(re.search(r'data-plots="(\d+)"', page).group(1)) == 8
    assert "152.8 KiB" in page and "(median of 2)" in page
    with Store(runs, read_only=True) as store:
        data = gather(store, BASE)
    data.platform = 'host <script>alert("x")</script> & co'  # a machine's name is not markup
    data.run = {**data.run, "suite": "<b>suite</b>"}
    hostile = render(data)
    assert "<script>alert" not in hostile and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in hostile
    assert "&lt;b&gt;suite&lt;/b&gt;" in hostile and "<b>suite</b>" not in hostile


def test_a_fingerprint_keeps_the_keras_that_trains():
    assert MACHINE.keras is None
    assert replace(MACHINE, versions={"tf_keras": "2.21.0", "keras": "3.15"}).keras == "2.21.0"
    assert Fingerprint(**{**MACHINE.__dict__, "versions": {"keras": "3.15"}}).keras == "3.15"


def test_a_run_on_random_inputs_stores_no_quality_and_says_why(tmp_path):
    from raylife.measure.metrics import CATALOGUE
    from raylife.store import Store

    text = (SERVED.format(name="speed", width=8, repeats=1).replace("target_accuracy = 0.5\n", "")
            + '[data]\ndataset = "random"\noptions = { shape = [8, 8, 1], samples = 64 }\n')
    db = tmp_path / "random.duckdb"
    write_run(db, BASE, text=text)  # every stage records accuracy as it would on real data
    with Store(db) as store:
        stored = {r[0] for r in store.con.execute("SELECT DISTINCT metric FROM measurements").fetchall()}
        epochs = store.con.execute("SELECT count(*), count(accuracy), count(eval_loss), count(train_loss) FROM epochs").fetchone()
    assert stored & {m.name for m in CATALOGUE if m.quality} == set()
    assert {"quality_measured", "train_samples_per_s", "p50_ms"} <= stored  # speed is still there
    assert epochs == (2, 0, 0, 2)
    shown = invoke("show", BASE, "--db", db)
    assert shown.exit_code == 0 and "random inputs" in shown.stdout, shown.output

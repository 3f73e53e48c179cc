"""Rich rendering at a fixed width, compared as text."""

from __future__ import annotations

from rich.console import Console

from raylife.plan import plan_trials
from raylife.report import format as fmt
from raylife.report.tables import busy_seconds, plan_table, summary_table, time_table
from raylife.suite import parse_suite
from tests.conftest import MINIMAL_SUITE


def render(renderable, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def lifecycle_row(**overrides):
    row = {
        "trial": "cnn_small/torch/w1", "variant": "cnn_small", "framework": "torch", "num_workers": 1, "status": "ok", "error": None,
        "accuracy": 0.9667, "baseline_accuracy": 0.1, "train_wall_s": 16.5, "time_to_target_s": 13.1, "native_bytes": 156424,
        "native_save_s": 0.0011, "native_load_s": 0.0019, "retrain_wall_s": 11.3, "retrain_accuracy": 0.975,
    }
    return {**row, **overrides}


def test_summary_row_shows_formatted_measurements():
    text = render(summary_table([lifecycle_row()]))
    assert "model       framework   workers   accuracy   baseline    train   to target        size     save     load   retrain   retrained" in text
    assert "cnn_small   torch             1      0.967      0.100   16.5 s      13.1 s   152.8 KiB   1.1 ms   1.9 ms    11.3 s       0.975" in text


def test_failed_trial_in_summary_with_its_error():
    row = lifecycle_row(trial="cnn_small/tensorflow/w2", framework="tensorflow", num_workers=2, status="failed",
                        error="TypeError: cnn_small() got an unexpected keyword argument 'bogus'")
    text = render(summary_table([lifecycle_row(), row]))
    assert "failed" in text
    assert "✗ cnn_small/tensorflow/w2: TypeError: cnn_small() got an unexpected keyword argument 'bogus'" in text


def test_missing_values_render_as_dash():
    text = render(summary_table([lifecycle_row(time_to_target_s=None)]))
    assert "      –   " in text


def test_plan_table_lists_every_trial():
    trials = plan_trials(parse_suite(MINIMAL_SUITE + "[train]\nnum_workers = [1, 2]\n"))
    text = render(plan_table(trials, title="t: 4 trials"))
    assert text.count("cnn_small") == 4
    assert "stages: train → evaluate → persist → retrain" in text


def test_formatters():
    assert fmt.seconds(0.0000123) == "12 µs"
    assert fmt.seconds(0.0123) == "12.3 ms"
    assert fmt.seconds(12.34) == "12.3 s"
    assert fmt.seconds(600) == "10.0 min"
    assert fmt.size(156424) == "152.8 KiB"  # binary, named as such (IEC): the one size convention
    assert fmt.size(3 * 2**30) == "3.0 GiB" and fmt.mebibytes(1536) == "1.5 GiB"
    assert fmt.in_unit(2_000_000, "bytes") == "1.9 MiB" and fmt.in_unit(0.123456, "s") == "0.1235"
    assert fmt.size(512) == "512 B"
    assert fmt.number(156424.0) == "156424"
    assert fmt.number(None) == "–"


def test_model_options_in_names_are_shown_not_taken_for_markup():
    trials = plan_trials(parse_suite(MINIMAL_SUITE + 'frameworks = "torch"\noptions = { width = 8 }\n'))
    assert trials[0].name == "cnn_small[width=8]/torch/w1"
    assert "cnn_small[width=8]" in render(plan_table(trials, title="t"))
    failed = lifecycle_row(trial="cnn_small[width=8]/torch/w1", status="failed", error="boom [bold]x[/bold]")
    text = render(summary_table([failed]))
    assert "cnn_small[width=8]" in text and "boom [bold]x[/bold]" in text


def test_progress_lines_keep_brackets():
    from raylife.records import TrialRecord, utcnow
    from raylife.report.progress import RichProgress

    console = Console(width=200, record=True, color_system=None, file=open("/dev/null", "w"))
    [trial] = plan_trials(parse_suite(MINIMAL_SUITE + 'frameworks = "torch"\noptions = { width = 8 }\n'))
    progress = RichProgress(console)
    progress.trial_started(trial)
    progress.trial_finished(TrialRecord(run_id="r", trial=trial, status="failed", error="E [x]", finished_at=utcnow()))
    text = console.export_text()
    assert "✗ cnn_small[width=8]/torch/w1  failed after" in text and "E [x]" in text


def test_trials_side_by_side_count_their_overlap_once_in_where_the_time_went():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 11, 28, 10, 0, 0)

    def trial(name, start, end):
        return {"trial_id": name, "trial": name, "wall_s": float(end - start),
                "started_at": t0 + timedelta(seconds=start), "finished_at": t0 + timedelta(seconds=end)}

    side_by_side = [trial("a", 0, 60), trial("b", 10, 50), trial("c", 55, 100), trial("d", 120, 130)]
    assert busy_seconds(side_by_side) == 110.0  # 0–100 and 120–130
    assert busy_seconds([{"wall_s": 7.0}, {"wall_s": 3.0}]) == 10.0  # no times known: the walls, summed
    stages = [{"trial_id": t["trial_id"], "stage": "train", "value": t["wall_s"]} for t in side_by_side]
    table = time_table(stages, side_by_side, {"ray_start_s": 5.0, "serve_start_s": None, "wall_s": 130.0})
    console = Console(width=200, record=True)
    console.print(table)
    text = " ".join(console.export_text().split())  # the caption wraps at the table's width
    assert "= Ray start-up 5.0 s + trials 110.0 s (side by side; 2.6 min summed)" in text and "driver (connect, checks, storing) 15.0 s" in text
    assert "-" not in text.split("driver")[1]  # never a negative remainder


def test_cluster_rows_say_what_a_platform_can_select():
    from raylife.measure.environment import NodeInfo
    from raylife.report.tables import node_rows

    bare = NodeInfo(node_id="a", address="10.0.0.1", hostname="h1", resources={"CPU": 1.0, "memory": 2 * 1024**3})
    big = NodeInfo(node_id="b", address="10.0.0.2", hostname="h2", resources={"CPU": 2.0, "cpu_large": 4.0},
                   labels={"node-type": "large"})
    columns, rows = node_rows((bare, big))
    assert columns[-2:] == ["custom resources", "labels"]
    assert rows == [("10.0.0.1", "h1", 1.0, 0.0, 2.0, "–", "–"), ("10.0.0.2", "h2", 2.0, 0.0, 0.0, "cpu_large=4", "node-type=large")]

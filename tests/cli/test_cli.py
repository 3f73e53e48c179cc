"""The command line: exit codes and the exact text of errors (the wording is part of the contract)."""

from __future__ import annotations

import json
import re
import socket

import pytest
from typer.testing import CliRunner

from raylife.cli import app
from tests.conftest import MINIMAL_SUITE, REPO, SUITES
from tests.unit.test_store import CLUSTER, begin, finished_record

runner = CliRunner()
COMMANDS = ["submit", "validate", "plan", "runs", "show", "query", "workloads", "metrics", "make-images"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result, expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {expected}\n"
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_documented(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert f"raylife {command}" in (REPO / "README.md").read_text()


def test_validate_ok():
    result = invoke("validate", SUITES / "vision.toml")
    assert result.exit_code == 0
    assert "is valid: suite 'vision', workload 'vision', 6 trials (tensorflow, torch)" in result.stdout


def test_plan_prints_the_trials():
    result = invoke("plan", SUITES / "vision.toml")
    assert result.exit_code == 0
    assert result.stdout.count("cnn_small") == 4 and result.stdout.count("mobilenet_small") == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (MINIMAL_SUITE + "[train]\nbatch_size = 0\n",
         "train.batch_size = 0 is invalid: Input should be greater than or equal to 1 ({path}:6); change the value in the suite"),
        (MINIMAL_SUITE + "[train]\nepochs = -1\n",
         "train.epochs = -1 is invalid: Input should be greater than or equal to 1 ({path}:6); change the value in the suite"),
        (MINIMAL_SUITE + "[train]\nepoch = 3\n",
         "unknown key 'epoch' in [train] ({path}:6); did you mean 'epochs'? keys allowed in [train]: batch_size, "
         "checkpoint_upload, cpus_per_worker, device, epochs, learning_rate, max_failures, num_workers, platform, precision, retrain_epochs, steps, target_accuracy, timeout_s"),
        ('name = "t"\nworkload = "vision"\n[[models]\n',
         "invalid TOML: Expected ']]' at the end of an array declaration ({path}:3:9); fix the syntax at that line"),
        ('name = "t"\nworkload = "vision"\n[[models]]\nname = "vgg16"\n',
         "unknown model 'vgg16' for workload 'vision' ({path}, models[0].name); known models: cnn_small, mobilenet_small, mobilenet_v2, mobilenet_v3_large, resnet18, resnet50, resnet_small, vit_b16"),
        (MINIMAL_SUITE + 'frameworks = ["torch", "mxnet"]\n',
         "unknown framework 'mxnet' ({path}, models[0].frameworks); known frameworks: tensorflow, torch"),
        (MINIMAL_SUITE + '[persist]\nformats = ["onnx"]\n',
         "framework 'tensorflow' cannot save or load format 'onnx' ({path}, persist.formats); "
         "formats for tensorflow: native (= keras), h5, safetensors, savedmodel"),
    ],
    ids=["batch-size-0", "negative-epochs", "unknown-key", "toml-syntax", "unknown-model", "unknown-framework", "format"],
)
@pytest.mark.parametrize("command", ["validate", "plan", "submit"])
def test_bad_suites_fail_in_one_line_and_write_nothing(write_suite, db_path, body, expected, command):
    path = write_suite(body)
    extra = ["--db", db_path] if command == "submit" else []
    assert_user_error(invoke(command, path, *extra), expected.format(path=path))
    assert not db_path.exists()


def test_model_without_the_framework(write_suite, torch_only):
    path = write_suite('name = "t"\nworkload = "torch_only"\n[[models]]\nname = "m"\nframeworks = ["tensorflow"]\n')
    assert_user_error(
        invoke("validate", path), f"model 'm' has no tensorflow implementation ({path}, models[0].frameworks); 'm' supports: torch"
    )


def test_missing_suite_file(tmp_path):
    assert_user_error(invoke("validate", tmp_path / "nope.toml"), f"suite file not found: {tmp_path}/nope.toml; check the path")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


def test_unreachable_address_fails_fast_and_writes_nothing(db_path):
    port = closed_port()
    result = invoke("submit", SUITES / "smoke.toml", "--db", db_path, "--address", f"127.0.0.1:{port}")
    assert_user_error(
        result,
        f"cannot reach a Ray cluster at 127.0.0.1:{port}: Connection refused (--address / RAY_ADDRESS); check that the "
        "cluster is up (`ray status` on its head node) and the host and port (GCS port, usually 6379; ray:// client "
        "port, usually 10001); omit --address to use an embedded local Ray",
    )
    assert not db_path.exists()


def test_address_from_environment(db_path, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    result = invoke("submit", SUITES / "smoke.toml", "--db", db_path)
    assert result.exit_code == 1 and f"cannot reach a Ray cluster at 127.0.0.1:{port}" in result.stderr


def test_database_in_missing_directory(tmp_path):
    db = tmp_path / "no" / "such" / "dir" / "r.duckdb"
    assert_user_error(
        invoke("submit", SUITES / "smoke.toml", "--db", db),
        f"the directory {db.parent} does not exist ({db}); create it (mkdir -p {db.parent}) or choose another --db",
    )


def test_database_path_is_a_directory(tmp_path):
    assert_user_error(
        invoke("submit", SUITES / "smoke.toml", "--db", tmp_path),
        f"the database path is a directory ({tmp_path}); give a file path, e.g. results.duckdb",
    )


def test_database_locked_by_another_process(db_path):
    import subprocess
    import sys

    from raylife.store import Store

    Store(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = invoke("submit", SUITES / "smoke.toml", "--db", db_path)
    finally:
        holder.kill()
        holder.wait()
    assert_user_error(
        result,
        f"the database is locked by another process ({db_path}); close the other raylife command or DuckDB client "
        "using it, or pass --db with another path",
    )


@pytest.fixture
def results_db(db_path):
    from raylife.plan import plan_trials
    from raylife.store import Store
    from raylife.suite import parse_suite

    trial = plan_trials(parse_suite(MINIMAL_SUITE + 'frameworks = "torch"\n'))[0]
    with Store(db_path) as store:
        begin(store, "20261126-100000-abcd")
        store.write_trial(finished_record(trial, "20261126-100000-abcd"), CLUSTER)
        store.finish_run("20261126-100000-abcd", "ok", 20.0, 0)
    return db_path


def test_runs_and_show(results_db):
    result = invoke("runs", "--db", results_db)
    assert result.exit_code == 0 and "20261126-100000-abcd" in result.stdout
    result = invoke("show", "2026", "--db", results_db, "--metrics")
    assert result.exit_code == 0
    assert "run 20261126-100000-abcd · suite t · ok" in result.stdout
    assert "0.970" in result.stdout and "train_wall_s" in result.stdout


def test_show_unknown_run(results_db):
    assert_user_error(invoke("show", "nope", "--db", results_db), f"no run 'nope' ({results_db}); list runs with `raylife runs`")


def test_query_formats(results_db):
    result = invoke("query", "select trial, accuracy from lifecycle", "--db", results_db, "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == "trial,accuracy\ncnn_small/torch/w1,0.97\n"
    result = invoke("query", "select trial, accuracy from lifecycle", "--db", results_db, "--format", "json")
    assert json.loads(result.stdout) == [{"trial": "cnn_small/torch/w1", "accuracy": 0.97}]
    result = invoke("query", "select count(*) as n from measurements", "--db", results_db)
    assert result.exit_code == 0 and re.search(r"\b5\b", result.stdout)


def test_query_refuses_writes(results_db):
    assert_user_error(
        invoke("query", "delete from runs", "--db", results_db),
        "refused: raylife query is read-only and this is a DELETE statement; use SELECT, PIVOT or EXPLAIN; "
        "to change the data, open the file with a DuckDB client",
    )
    result = invoke("query", "select count(*) from runs", "--db", results_db, "-f", "csv")
    assert result.stdout.endswith("\n1\n")


def test_query_schema(results_db):
    result = invoke("query", "--schema", "--db", results_db)
    assert result.exit_code == 0
    for name in ("runs", "trials", "environments", "measurements", "epochs", "lifecycle", "metrics"):
        assert name in result.stdout
    # Column types appear only in the schema listing, not in any query or help text.
    for column in ("run_id VARCHAR", "latency_ms DOUBLE", "labels JSON", "resumes INTEGER"):
        assert column in " ".join(result.stdout.split())


def test_query_without_database(tmp_path):
    db = tmp_path / "none.duckdb"
    assert_user_error(
        invoke("query", "select 1", "--db", db),
        f"no results database here yet ({db}); run `raylife submit SUITE` first, or pass --db",
    )
    assert not db.exists()


def test_workloads_lists_every_task_model_and_source():
    result = invoke("workloads")
    assert result.exit_code == 0
    for text in ("vision", "text", "tabular", "recommendation", "audio", "resnet50", "transformer", "two_tower", "dscnn",
                 "imagefolder", "cifar10", "parquet", "textfolder", "wavfolder", "ratings", 'dataset = "random"'):
        assert text in result.stdout, text


def test_unknown_workload_in_workloads_command():
    assert_user_error(invoke("workloads", "vison"),
                      "unknown workload 'vison'; did you mean 'vision'? known workloads: audio, generative, recommendation, tabular, text, vision")


def test_a_model_that_cannot_take_the_data(write_suite):
    path = write_suite('name = "t"\nworkload = "vision"\n[[models]]\nname = "mobilenet_v2"\n')
    assert_user_error(invoke("validate", path), (
        f"model 'mobilenet_v2' cannot take this data: needs images of at least 32x32, got 8x8 (for digits set data.options = "
        f"{{ size = 32, channels = 3 }}) ({path}, models[0]); choose another model or data options"))


def test_a_missing_data_path_fails_before_anything_runs(write_suite, db_path):
    path = write_suite('name = "t"\nworkload = "audio"\n[data]\nformat = "wavfolder"\npath = "clips"\n[[models]]\nname = "cnn"\n')
    result = invoke("submit", path, "--db", db_path)
    assert_user_error(result, f"data path is not a directory: {path.parent}/clips ({path}, data.path); "
                              "wavfolder wants PATH/<class>/*.wav")
    assert not db_path.exists()

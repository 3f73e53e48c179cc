"""Bad input of every kind the hardening issue lists: one `Error:` line, exit 1, no traceback, nothing written,
and (for submit) no Ray started — each case here finishes in milliseconds."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli.test_cli import invoke
from tests.conftest import MINIMAL_SUITE

TRAIN_ONLY = 'name = "t"\nworkload = "{workload}"\n[[models]]\nname = "{model}"\nframeworks = ["torch"]\n'


def one_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def data_suite(workload: str, model: str, fmt: str, path: str, options: str = "") -> str:
    return TRAIN_ONLY.format(workload=workload, model=model) + f'[data]\nformat = "{fmt}"\npath = "{path}"\n' + (
        f"options = {options}\n" if options else "")


def parquet_bytes(tmp_path: Path) -> bytes:
    pq.write_table(pa.table({"a": [1.0, 2.0], "label": ["x", "y"]}), tmp_path / "p.parquet")
    return (tmp_path / "p.parquet").read_bytes()


CSV = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n"
BAD_FILES = [
    # (workload, model, format, file bytes, options, expected fragment)
    ("tabular", "mlp", "csv", b"", "", "cannot read {path} as csv: Empty CSV file"),
    ("tabular", "mlp", "csv", bytes(range(256)) * 8, "", "as csv"),
    ("tabular", "mlp", "parquet", CSV.encode(), "", "cannot read {path} as parquet: "),
    ("tabular", "mlp", "csv", "parquet", "", "as csv"),
    ("text", "gru", "csv", b"", "", "cannot read {path} as csv: Empty CSV file"),
    ("text", "gru", "csv", bytes(range(256)) * 8, "", "{name}"),
    ("recommendation", "mf", "ratings", b"", "", "cannot read {path} as ratings: Empty CSV file"),
    ("recommendation", "mf", "ratings", bytes(range(256)) * 8, "", "{name}"),
    ("recommendation", "mf", "ratings", "userId,movieId,rating\n1,2,abc\n", "", "as ratings"),
]


@pytest.mark.parametrize(("workload", "model", "fmt", "data", "options", "expected"), BAD_FILES)
@pytest.mark.parametrize("command", ["validate", "plan", "submit"])
def test_bad_data_files(tmp_path, write_suite, db_path, workload, model, fmt, data, options, expected, command):
    data = parquet_bytes(tmp_path) if data == "parquet" else data
    file = write(tmp_path, f"rows.{fmt}", data)
    suite = write_suite(data_suite(workload, model, fmt, file.name, options))
    extra = ["--db", db_path] if command == "submit" else []
    line = one_error(invoke(command, suite, *extra))
    assert expected.format(path=file, name=file.name) in line
    assert f"{suite}, data" in line
    assert not db_path.exists()


OPTIONS = [
    ("vision", "cnn_small", 'options = { size = "five" }', 'data.options.size = "five" is invalid: Input should be a valid integer'),
    ("vision", "cnn_small", "options = { size = 100000 }", "data.options.size = 100000 is invalid: Input should be less than or equal to 512"),
    ("vision", "cnn_small", "options = { channels = 2 }", "data.options.channels = 2 is invalid: Input should be 1 or 3"),
    ("vision", "cnn_small", "options = { colour = 1 }", "unknown option data.options.colour"),
    ("text", "gru", 'options = { samples = "five" }', 'data.options.samples = "five" is invalid: Input should be a valid integer'),
    ("text", "gru", "options = { seq_len = 0 }", "data.options.seq_len = 0 is invalid: Input should be greater than or equal to 1"),
    ("text", "gru", "options = { vocab_size = -1 }", "data.options.vocab_size = -1 is invalid: Input should be greater than or equal to 4"),
    ("text", "gru", "options = { seed = -1 }", "data.options.seed = -1 is invalid"),
    ("vision", "cnn_small", 'dataset = "random"\noptions = { shape = ["a"] }', 'data.options.shape = ["a"]'.replace('"', "'") + " is invalid"),
    ("vision", "cnn_small", 'dataset = "random"\noptions = { classes = 0 }', "data.options.classes = 0 is invalid: Input should be greater than or equal to 2"),
    ("vision", "cnn_small", 'dataset = "random"\noptions = { samples = 1e300 }', "data.options.samples = 1e+300 is invalid"),
    ("audio", "cnn", "options = { duration_s = nan }", "data.options.duration_s = nan is invalid: not a finite number"),
    ("recommendation", "mf", "options = { users = 0 }", "data.options.users = 0 is invalid"),
]


@pytest.mark.parametrize(("workload", "model", "data", "expected"), OPTIONS)
def test_bad_data_options(write_suite, workload, model, data, expected):
    suite = write_suite(TRAIN_ONLY.format(workload=workload, model=model) + f"[data]\n{data}\n")
    assert expected in one_error(invoke("validate", suite))


MODEL_OPTIONS = [
    ("options = { width = nan }", "model 'cnn_small': option width = nan is not a finite number"),
    ('options = { width = "wide" }', 'model \'cnn_small\': option width = "wide": expected int'),
    ("options = { width = 0 }", "option width = 0 is out of range (0 < value <= 65536)"),
    ("options = { widht = 8 }", "raylife.workloads.vision.torch_models:cnn_small takes no option 'widht' (did you mean 'width'?); its options: width"),
    ("options = { dropout = 1.5 }", None),  # cnn_small has no dropout: named as unknown
]


@pytest.mark.parametrize(("options", "expected"), MODEL_OPTIONS)
def test_bad_model_options(write_suite, options, expected):
    line = one_error(invoke("validate", write_suite(MINIMAL_SUITE + options + "\n")))
    assert (expected or "takes no option 'dropout'") in line
    assert "models[0].options" in line


def test_option_ranges_of_a_dropout(write_suite):
    suite = TRAIN_ONLY.format(workload="tabular", model="mlp")
    assert "option dropout = 1.5 is out of range (0 <= value < 1)" in one_error(
        invoke("validate", write_suite(suite + "options = { dropout = 1.5 }\n")))
    assert invoke("validate", write_suite(suite + "options = { dropout = 0.0 }\n")).exit_code == 0


SUITES = [
    ('seed = -1', "seed = -1 is invalid: Input should be greater than or equal to 0"),
    ('seed = 1099511627776', "seed = 1099511627776 is invalid: Input should be less than or equal to 4294967295"),
    ("[train]\nnum_workers = [2, 2]", "train.num_workers = [2, 2] is invalid: 2 is listed twice; each value of a list must differ"),
    ("[train]\nbatch_size = 1\nnum_workers = 2",
     "train.batch_size = 1 does not divide over num_workers = 2: the batch is global, split evenly over the workers"),
    ("[train]\nbatch_size = [32, 33]\nnum_workers = [1, 2]", "train.batch_size = 33 does not divide over num_workers = 2"),
    ("[train]\nepochs = 1000000000000000", "train.epochs = 1000000000000000 is invalid: Input should be less than or equal to 10000"),
    ("[train]\nlearning_rate = inf", "train.learning_rate = inf is invalid: Input should be a finite number"),
    ("[train]\nlearning_rate = nan", "train.learning_rate = nan is invalid: Input should be a finite number"),
    ('[persist]\nformats = { torchh = ["native"] }', "unknown framework 'torchh' in persist.formats"),
    ('[persist]\nformats = ["native", "native"]', "'native' is listed twice"),
    ('[run]\nstorage_path = ""', 'run.storage_path = "" is invalid: String should have at least 1 character'),
    ('[run]\nstorage_path = "ftp://host/x"', "storage_path 'ftp://host/x' has scheme 'ftp', which raylife cannot write to"),
    ("[serve]\nrequests = 10\nduration_s = 2", "[serve] is invalid: give requests or duration_s, not both"),
    ('[serve]\n[update]\nstrategies = ["rollout", "rollout"]', "update.strategies = ['rollout', 'rollout'] is invalid: 'rollout' is listed twice"),
    ('[serve]\npaths = ["http", "http"]', "'http' is listed twice"),
    ("[serve]\nport = 99999", "serve.port = 99999 is invalid: Input should be less than or equal to 65535"),
]


@pytest.mark.parametrize(("body", "expected"), SUITES)
@pytest.mark.parametrize("command", ["validate", "submit"])
def test_suites_that_could_never_run(write_suite, db_path, body, expected, command):
    head, _, rest = body.partition("\n") if body.startswith("seed") else ("", "", body)
    text = MINIMAL_SUITE.replace('workload = "vision"\n', f'workload = "vision"\n{head}\n') + rest + "\n"
    extra = ["--db", db_path] if command == "submit" else []
    assert expected in one_error(invoke(command, write_suite(text), *extra))
    assert not db_path.exists()


def test_a_huge_matrix_is_refused_with_its_axes(write_suite):
    axis = "[" + ", ".join(str(2 * i + 2) for i in range(300)) + "]"
    body = MINIMAL_SUITE + f"[train]\nepochs = [{', '.join(str(i + 1) for i in range(300))}]\nbatch_size = {axis}\n" \
        f"learning_rate = [{', '.join(str((i + 1) / 1000) for i in range(300))}]\n"
    line = one_error(invoke("validate", write_suite(body)))
    assert ("the suite would run 54,000,000 trials (models[0] 'cnn_small': 2 frameworks x batch_size 300 x epochs 300 "
            "x learning_rate 300 = 54,000,000); raylife runs at most 1,000 per suite") in line


def test_both_requests_and_duration_never_drop_one(write_suite):
    from raylife.suite import load_suite

    spec, _ = load_suite(write_suite(MINIMAL_SUITE + "[serve]\nduration_s = 2\n"))
    assert spec.serve.requests is None and spec.serve.duration_s == 2
    spec, _ = load_suite(write_suite(MINIMAL_SUITE + "[serve]\n"))
    assert spec.serve.requests == 200


# -- checks that must happen before Ray starts --------------------------------------------------------------

def test_gpu_on_a_machine_without_one(write_suite, db_path):
    if Path("/proc/driver/nvidia").exists():
        pytest.skip("this machine has a GPU")
    line = one_error(invoke("submit", write_suite(MINIMAL_SUITE + '[train]\ndevice = "gpu"\n'), "--db", db_path))
    assert "2 of 2 trials need a GPU (first: cnn_small/torch/w1) but the machine has none" in line
    assert not db_path.exists()


def test_more_workers_than_the_embedded_ray_has(write_suite, db_path):
    cpus = os.cpu_count() or 1
    suite = write_suite(MINIMAL_SUITE + f"[train]\nnum_workers = {cpus + 1}\nbatch_size = {64 * (cpus + 1)}\n")
    assert f"but the cluster has {cpus}" in one_error(invoke("submit", suite, "--db", db_path))
    suite = write_suite(MINIMAL_SUITE + "[serve]\nreplicas = 64\ncpus_per_replica = 1\n", "serve.toml")
    assert "deploys 64 replicas x 1 CPUs = 64 CPUs but the cluster has" in one_error(invoke("submit", suite, "--db", db_path))
    assert not db_path.exists()


def test_a_busy_serve_port_before_ray(write_suite, db_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = invoke("submit", write_suite(MINIMAL_SUITE + f"[serve]\nport = {port}\n"), "--db", db_path)
    assert result.exit_code == 1 and result.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use (Address already in use) (serve.port / serve.host in the "
        "suite); stop what listens there, or set serve.port to a free port\n"
    )
    assert not db_path.exists()


def test_replicas_that_cannot_fit_the_embedded_ray_before_ray(write_suite, db_path):
    suite = write_suite(MINIMAL_SUITE + 'frameworks = ["torch"]\n[serve]\nreplicas = 5\ncpus_per_replica = 1\n')
    line = one_error(invoke("submit", suite, "--db", db_path, "--num-cpus", "2"))
    assert line.startswith(
        f"Error: trial cnn_small/torch/w1 deploys 5 replicas x 1 CPUs = 5 CPUs but the cluster has 2 ({suite}, "
        "serve.replicas / serve.cpus_per_replica)"
    ), line
    assert not db_path.exists()


@pytest.mark.parametrize(("address", "expected"), [
    ("10.0.0.5", "--address 10.0.0.5 has no port (--address / RAY_ADDRESS); give host:port, e.g. 10.0.0.5:6379"),
    ("127.0.0.1:99999", "--address 127.0.0.1:99999: port '99999' is not a port number (1-65535)"),
    ("127.0.0.1:abc", "port 'abc' is not a port number"),
    (":6379", "--address :6379 has no host"),
    ("http://127.0.0.1:6379", "has an unknown scheme 'http://'"),
    ("127.0.0.1:1", "cannot reach a Ray cluster at 127.0.0.1:1"),
])
def test_bad_addresses_fail_before_ray(write_suite, db_path, address, expected):
    assert expected in one_error(invoke("submit", write_suite(MINIMAL_SUITE), "--db", db_path, "--address", address))
    assert not db_path.exists()


def test_address_auto_without_a_cluster(write_suite, db_path, tmp_path, monkeypatch):
    from ray._private import services

    if services.find_bootstrap_address(None) or services.find_gcs_addresses():
        pytest.skip("a Ray cluster runs on this machine")
    line = one_error(invoke("submit", write_suite(MINIMAL_SUITE), "--db", db_path, "--address", "auto"))
    assert "--address auto found no running Ray cluster on this machine" in line


def test_storage_uri_of_an_unknown_scheme_on_the_command_line(write_suite, db_path):
    line = one_error(invoke("submit", write_suite(MINIMAL_SUITE), "--db", db_path, "--storage-path", "foo://b/x"))
    assert "storage_path 'foo://b/x' has scheme 'foo'" in line and "(--storage-path)" in line


def test_an_object_store_that_cannot_be_written_is_refused_before_ray(write_suite, db_path, s3_uri):
    """A real S3 endpoint without the bucket: one line that names the URI (never its secret) and the store's reason;
    no database written, no Ray started."""
    uri = s3_uri("x").replace("@raylife/", "@missing-bucket/")
    result = invoke("submit", write_suite(MINIMAL_SUITE), "--db", db_path, "--storage-path", uri)
    line = one_error(result)
    assert line.startswith("Error: cannot write to storage_path s3://***@missing-bucket/x?"), line
    assert "NO_SUCH_BUCKET" in line and "(--storage-path)" in line and "test:test" not in result.output
    assert not Path(db_path).exists()


def test_foreign_and_newer_files_are_refused_before_ray(write_suite, tmp_path):
    import duckdb

    theirs = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(theirs))
    con.execute("create table customers (id int)")
    con.close()
    before = theirs.read_bytes()
    line = one_error(invoke("submit", write_suite(MINIMAL_SUITE), "--db", theirs))
    assert line.startswith("Error: not a raylife results file")
    assert theirs.read_bytes() == before
    assert "not a raylife results file" in one_error(invoke("runs", "--db", theirs))


# -- day-one CLI gaps ----------------------------------------------------------------------------------------

def test_version():
    import raylife

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"raylife {raylife.__version__}\n"


def test_runs_in_a_missing_folder(tmp_path):
    line = one_error(invoke("runs", "--db", tmp_path / "missing" / "dir" / "x.duckdb"))
    assert f"the directory {tmp_path}/missing/dir does not exist" in line


def test_show_empty_run_is_refused(db_path):
    assert one_error(invoke("show", "", "--db", db_path)) == (
        "Error: no run given (an empty run id); give a run id, a unique prefix of one, or 'last'")


def test_query_help_lists_every_table_and_view():
    from raylife.store.schema import table_names, view_names

    text = " ".join(invoke("query", "--help").stdout.split())
    assert set(table_names()) >= {"runs", "trials", "latencies"} and "costs" in view_names()
    for name in table_names() + view_names():
        assert name in text


def test_shell_completion_is_offered():
    assert "--install-completion" in invoke("--help").stdout


def test_a_run_id_needs_resume(write_suite, db_path):
    assert "a run id is taken only with --resume" in one_error(invoke("submit", write_suite(MINIMAL_SUITE), "abc", "--db", db_path))


def test_resume_with_nothing_to_resume(write_suite, db_path):
    line = one_error(invoke("submit", write_suite(MINIMAL_SUITE), "--resume", "--db", db_path))
    assert line.startswith("Error: nothing to resume: no results file yet")

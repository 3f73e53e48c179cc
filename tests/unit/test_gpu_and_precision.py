"""What of GPUs, precision and hardware telemetry can be checked without a GPU: plans, refusals, Serve configs,
the counters' readers on files laid out as the kernel lays them out, and the 'not available' path."""

from __future__ import annotations

import subprocess

import pytest

from raylife.errors import ClusterError, PlanError
from raylife.measure.telemetry import Mark, Meter, Rapl, Telemetry, between
from raylife.plan import plan_trials
from raylife.runner.cluster import check_fits, cpu_has_bf16
from raylife.measure.environment import ClusterInfo
from raylife.serving.control import DeploymentSettings, deploy_config
from raylife.serving.messages import ModelVersion, ReplicaArgs

ARGS = ReplicaArgs(framework="torch", format="state_dict", model_dir="/m", version="v")
VERSION = ModelVersion(model_dir="/m", version="v")


def settings(**extra) -> DeploymentSettings:
    return DeploymentSettings(replicas=extra.pop("replicas", 1), cpus_per_replica=1, max_ongoing_requests=8,
                              host="127.0.0.1", port=8000, **extra)
from raylife.suite import parse_suite
from tests.conftest import MINIMAL_SUITE, RAYLIFE, REPO, SUITES

TORCH = MINIMAL_SUITE + 'frameworks = ["torch"]\n'


def plan(text: str):
    return plan_trials(parse_suite(text, "s.toml"), "s.toml")


def test_precision_is_an_axis_stored_with_the_trial():
    trials = plan(TORCH + '[train]\ndevice = "gpu"\nprecision = ["fp32", "bf16", "fp16"]\n')
    assert [(t.name, t.precision) for t in trials] == [
        ("cnn_small/torch/w1/fp32", "fp32"), ("cnn_small/torch/w1/bf16", "bf16"), ("cnn_small/torch/w1/fp16", "fp16")]
    assert trials[1].params()["precision"] == "bf16"


def test_fp16_on_the_cpu_is_refused_at_plan_time():
    with pytest.raises(PlanError, match="precision fp16 needs a GPU"):
        plan(TORCH + '[train]\nprecision = "fp16"\n')


def test_serve_device_defaults_to_the_trials():
    gpu, cpu = plan(TORCH + '[train]\ndevice = ["gpu", "cpu"]\n[serve]\n')
    assert (gpu.serve_device, cpu.serve_device) == ("gpu", "cpu")
    [pinned] = plan(TORCH + '[train]\ndevice = "gpu"\n[serve]\ndevice = "cpu"\n')
    assert pinned.serve_device == "cpu"


def test_a_gpu_replica_asks_serve_for_its_fraction_of_a_gpu():
    from ray.serve.schema import ServeDeploySchema

    config = deploy_config("raylife-x", ARGS, VERSION, settings(replicas=2, gpus_per_replica=0.5))
    options = config["applications"][0]["deployments"][0]["ray_actor_options"]
    assert options == {"num_cpus": 1, "num_gpus": 0.5}
    ServeDeploySchema.model_validate(config)  # what Serve itself accepts
    cpu = deploy_config("raylife-x", ARGS, VERSION, settings())
    assert "num_gpus" not in cpu["applications"][0]["deployments"][0]["ray_actor_options"]


def test_graceful_shutdown_settings_reach_serve_only_when_the_suite_sets_them():
    from ray.serve.schema import ServeDeploySchema

    from raylife.suite.spec import ServeSpec

    def deployment(spec: ServeSpec) -> dict:
        config = deploy_config("raylife-x", ARGS, VERSION, settings(graceful_shutdown=spec.graceful_shutdown()))
        ServeDeploySchema.model_validate(config)  # what Serve itself accepts
        return config["applications"][0]["deployments"][0]

    default = deployment(ServeSpec())
    assert not any(key.startswith("graceful_shutdown") for key in default)  # Serve's own defaults, measured as such
    quick = deployment(ServeSpec(graceful_shutdown_wait_loop_s=0.1, graceful_shutdown_timeout_s=5))
    assert (quick["graceful_shutdown_wait_loop_s"], quick["graceful_shutdown_timeout_s"]) == (0.1, 5)
    [trial] = plan(TORCH + "[serve]\ngraceful_shutdown_wait_loop_s = 0.25\n")
    assert trial.params()["serve"]["graceful_shutdown_wait_loop_s"] == 0.25  # stored with the trial


def test_gpus_are_checked_for_workers_and_replicas():
    trials = plan(TORCH + '[train]\ndevice = "gpu"\n[serve]\nreplicas = 3\ngpus_per_replica = 0.5\n')
    with pytest.raises(ClusterError, match=r"1 of 1 trials need a GPU .* but the machine has none"):
        check_fits(trials, ClusterInfo(cpus=8, gpus=0), "s.toml")
    with pytest.raises(ClusterError, match=r"deploys 3 replicas x 0.5 GPUs = 1.5 GPUs but the cluster has 1"):
        check_fits(trials, ClusterInfo(cpus=8, gpus=1), "s.toml")
    check_fits(trials, ClusterInfo(cpus=8, gpus=2), "s.toml")


def test_bf16_on_a_cpu_without_bf16_instructions_is_refused():
    [trial] = plan(TORCH + '[train]\nprecision = "bf16"\n')
    with pytest.raises(ClusterError, match="no bf16 instructions"):
        check_fits([trial], ClusterInfo(cpus=2, gpus=0, cpu_bf16=False), "s.toml")
    check_fits([trial], ClusterInfo(cpus=2, gpus=0, cpu_bf16=True), "s.toml")
    assert cpu_has_bf16("flags\t\t: fpu avx2 avx512f avx512_bf16\n") is True
    assert cpu_has_bf16("flags\t\t: fpu avx2 avx512f\n") is False
    assert cpu_has_bf16("Features\t: fp asimd bf16\n") is True  # Arm


@pytest.mark.parametrize("suite, counts", [(SUITES / "gpu.toml", "8 of 16"), (REPO / "benchmarks" / "gpu_quick.toml", "2 of 4")],
                         ids=["gpu", "gpu_quick"])
def test_the_gpu_suites_stop_before_ray_starts_on_a_machine_without_a_gpu(tmp_path, suite, counts):
    result = subprocess.run([*RAYLIFE, "submit", str(suite), "--db", str(tmp_path / "g.duckdb")],
                            capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {counts} trials need a GPU (first: cnn_small/torch/w1/gpu/fp32) but the "
                                    "machine has none"), result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "g.duckdb").exists()


def write_rapl(root, energy_uj: int, max_uj: int = 262143328850) -> None:
    domain = root / "intel-rapl:0"
    (domain / "intel-rapl:0:0").mkdir(parents=True, exist_ok=True)  # a sub-domain (core): not counted twice
    (domain / "name").write_text("package-0\n")
    (domain / "energy_uj").write_text(f"{energy_uj}\n")
    (domain / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (domain / "intel-rapl:0:0" / "energy_uj").write_text("5\n")


def test_rapl_energy_between_start_and_stop_with_the_counter_wrapping(tmp_path):
    write_rapl(tmp_path, 1_000_000)
    rapl = Rapl(tmp_path)
    rapl.start()
    write_rapl(tmp_path, 3_500_000)
    assert rapl.stop() == pytest.approx(2.5)
    write_rapl(tmp_path, 1_000, max_uj=2_000_000)
    wrapped = Rapl(tmp_path)
    wrapped.start()
    write_rapl(tmp_path, 500, max_uj=2_000_000)
    assert wrapped.stop() == pytest.approx((2_000_000 + 500 - 1_000) / 1e6)


def test_telemetry_says_why_when_the_hardware_does_not_tell(tmp_path):
    reading = Telemetry(gpu=True, rapl_root=tmp_path / "no-powercap").start().stop()
    assert reading.cpu_energy_j is None and reading.gpu_energy_j is None and reading.gpu_mem_peak_mb is None
    assert reading.missing["cpu_energy"].startswith("no RAPL on this machine")
    try:
        import pynvml  # noqa: F401
    except ImportError:
        assert reading.missing["gpu"] == "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    else:
        assert "gpu" in reading.missing or reading.gpu_energy_j is not None


def test_a_replicas_meter_reads_the_packages_counter_at_each_mark(tmp_path):
    write_rapl(tmp_path, 10_000_000)
    meter = Meter(gpu=False, node="n1", rapl_root=tmp_path).start()
    first = meter.mark()
    write_rapl(tmp_path, 14_000_000)
    second = meter.mark()
    assert first.cpu_energy_uj == (("intel-rapl:0", 10_000_000, 262143328850),)  # the package, not its sub-domain
    assert between({"r1": first}, {"r1": second}).cpu_energy_j == pytest.approx(4.0)
    assert first.gpu is None and first.samples == 0 and first.missing == ()
    bare = Meter(gpu=False, node="n1", rapl_root=tmp_path / "none").start().mark()
    assert dict(bare.missing)["cpu_energy"].startswith("no RAPL on this machine") and bare.cpu_energy_uj == ()


class FakeGpu:
    """NVML's answers for a GPU this machine does not have: the running sums are what is under test, not NVML."""

    def __init__(self):
        self.reads = 0

    def nvmlDeviceGetUtilizationRates(self, handle):  # noqa: N802 - NVML's names
        self.reads += 1
        return type("U", (), {"gpu": 40 + 20 * (self.reads % 2)})()  # 60, 40, 60, …: mean 50

    def nvmlDeviceGetPowerUsage(self, handle):  # noqa: N802
        return 150_000  # mW

    def nvmlDeviceGetMemoryInfo(self, handle):  # noqa: N802
        return type("M", (), {"used": (1000 + self.reads) * 2**20})()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):  # noqa: N802
        return 5_000 + 100 * self.reads  # mJ

    def nvmlDeviceGetUUID(self, handle):  # noqa: N802
        return "GPU-fake"


def test_a_long_lived_meter_keeps_running_sums_of_its_gpu_samples(tmp_path):
    import time

    meter = Meter(gpu=True, node="n1", rapl_root=tmp_path, interval_s=0.01)
    meter.nvml.reason, meter.nvml.nvml, meter.nvml.handle = None, FakeGpu(), object()
    meter.start()
    time.sleep(0.3)
    mark = meter.mark()
    meter.nvml._stop.set()
    assert mark.gpu == "GPU-fake" and mark.samples >= 5 and not hasattr(meter.nvml, "_samples")
    assert mark.util_sum / mark.samples == pytest.approx(50, abs=10) and mark.power_sum / mark.samples == 150.0
    assert mark.gpu_mem_peak_mb >= 1000 + mark.samples - 1 and mark.gpu_energy_mj >= 5_000


def mark(at, node="n1", cpu=None, gpu=None, energy=None, samples=0, util=0.0, power=0.0, peak=None, wrap=10**9):
    return Mark(at_unix=at, node=node, cpu_energy_uj=(("intel-rapl:0", cpu, wrap),) if cpu is not None else (),
                gpu=gpu, gpu_energy_mj=energy, samples=samples, util_sum=util, power_sum=power, gpu_mem_peak_mb=peak)


def test_devices_are_counted_once_however_many_replicas_share_them():
    # two replicas on one node, sharing one GPU at 0.5 each: one package and one GPU, not two of each
    before = {"a": mark(0, cpu=1_000_000, gpu="GPU-1", energy=5_000, samples=10, util=100, power=500),
              "b": mark(0.1, cpu=1_000_500, gpu="GPU-1", energy=5_010, samples=12, util=120, power=600)}
    after = {"a": mark(9, cpu=3_000_000, gpu="GPU-1", energy=95_000, samples=30, util=1100, power=2500, peak=800),
             "b": mark(9.1, cpu=3_000_100, gpu="GPU-1", energy=95_100, samples=32, util=1320, power=2600, peak=900)}
    r = between(before, after)
    assert r.cpu_energy_j == pytest.approx((3_000_100 - 1_000_000) / 1e6)  # earliest start to latest end
    assert r.gpu_energy_j == pytest.approx((95_100 - 5_000) / 1000)
    assert r.gpu_util_mean_pct == pytest.approx(((1100 - 100) / 20 + (1320 - 120) / 20) / 2)
    assert r.gpu_power_mean_w == pytest.approx(((2500 - 500) / 20 + (2600 - 600) / 20) / 2)
    assert r.gpu_mem_peak_mb == 900


def test_a_rollout_that_replaces_every_replica_is_still_measured_on_the_same_devices():
    before = {"old": mark(0, cpu=500, gpu="GPU-1", energy=1_000, samples=5, util=50, power=100)}
    after = {"new": mark(20, cpu=900_000_500, gpu="GPU-1", energy=61_000, samples=10, util=400, power=1500)}
    r = between(before, after)
    assert r.cpu_energy_j == pytest.approx(900.0) and r.gpu_energy_j == pytest.approx(60.0)
    assert r.gpu_util_mean_pct == pytest.approx(40.0)  # the new replica's own samples, since it started


def test_a_device_without_a_start_gives_no_energy_rather_than_part_of_it():
    before = {"a": mark(0, node="n1", cpu=100)}
    after = {"a": mark(5, node="n1", cpu=200), "b": mark(5, node="n2", cpu=900)}
    assert between(before, after).cpu_energy_j is None
    wrapped = between({"a": mark(0, cpu=900, wrap=1000)}, {"a": mark(1, cpu=100, wrap=1000)})
    assert wrapped.cpu_energy_j == pytest.approx(200 / 1e6)  # the package counter wrapped once


@pytest.mark.torch
def test_a_torch_predictor_runs_at_the_precision_asked_and_refuses_a_missing_gpu():
    import numpy as np
    import torch

    from raylife.frameworks.torch.backend import _numpy_predictor
    from raylife.workloads.vision.torch_models import cnn_small

    torch.manual_seed(0)
    model = cnn_small((8, 8, 1), 10).eval()
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    fp32 = _numpy_predictor(model, "cpu", "fp32")(x)
    bf16 = _numpy_predictor(model, "cpu", "bf16")(x)
    assert fp32.dtype == bf16.dtype == np.float32
    assert not np.array_equal(fp32, bf16)  # really computed in bf16 ...
    assert np.abs(fp32 - bf16).max() < 0.1  # ... and close to fp32
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="device = gpu, but this process sees no CUDA device"):
            _numpy_predictor(model, "gpu", "fp32")


@pytest.mark.skipif(subprocess.run(["nvidia-smi"], capture_output=True, shell=False).returncode != 0
                    if __import__("shutil").which("nvidia-smi") else True, reason="no NVIDIA GPU on this machine")
@pytest.mark.torch
def test_on_a_gpu_the_predictor_runs_on_cuda():
    import numpy as np

    from raylife.frameworks.torch.backend import _numpy_predictor
    from raylife.workloads.vision.torch_models import cnn_small

    model = cnn_small((8, 8, 1), 10).eval()
    predict = _numpy_predictor(model, "gpu", "bf16")
    assert next(model.parameters()).is_cuda
    assert predict(np.zeros((4, 8, 8, 1), np.float32)).shape == (4, 10)


@pytest.mark.torch
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_a_torch_epoch_learns_at_each_precision_and_counts_every_sample(precision):
    """raylife's epoch of training steps (what its Ray Train workers run): fp32 with no autocast or scaler, bf16 under
    autocast, fp16 through a GradScaler (CPU autocast runs fp16 too, so the scaler path is checked without a GPU)."""
    import numpy as np
    import torch

    from raylife.frameworks.torch.train_loop import train_epoch
    from raylife.workloads.vision.torch_models import cnn_small

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    x = (rng.normal(size=(200, 8, 8, 1)) + y[:, None, None, None] * 2).astype(np.float32)  # two separable classes
    model = cnn_small((8, 8, 1), 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu") if precision == "fp16" else None
    device = torch.device("cpu")
    steps: list[int] = []
    losses = []
    for epoch in range(3):
        order = rng.permutation(len(y))
        loss_sum, seen, seconds = train_epoch(model, optimizer, scaler, x, y, order, 32, device, precision, steps.append)
        assert seen == len(y) and seconds > 0
        assert loss_sum.dtype == torch.float64 and loss_sum.device == device  # summed where it trains, read once
        losses.append(loss_sum.item() / seen)
    assert steps == list(range(7)) * 3  # on_step before each of the 7 steps (200 / 32, rounded up)
    assert losses[-1] < losses[0] * 0.5, losses

"""Every file in deploy/ is read and checked for what KubeRay (ray.io/v1), the Ray cluster launcher and Docker need,
and every raylife command they run is a real command with real options and a suite that plans."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from raylife.cli import app
from raylife.plan import plan_trials
from raylife.suite import load_suite

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def check_raylife_command(words: list[str]) -> None:
    """``raylife SUBCOMMAND ...``: the subcommand exists, every --option it passes is one the command takes, and the
    suite it names loads and plans."""
    import typer.main

    assert words[0] == "raylife", words
    group = typer.main.get_command(app)
    command = group.commands[words[1]]  # type: ignore[attr-defined]
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in words[2:]:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"raylife {words[1]} has no option {word}"
    if words[1] == "submit":
        suite = REPO / words[2]
        spec, _ = load_suite(suite)
        assert plan_trials(spec, str(suite))


def check_pod_template(template: dict, what: str) -> None:
    containers = template["spec"]["containers"]
    assert containers, what
    mounts = set()
    for container in containers:
        assert container["name"] and container["image"], what
        assert container["resources"]["limits"]["cpu"], what
        mounts |= {m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"] for v in template["spec"].get("volumes", [])}
    assert mounts <= volumes, f"{what}: mounts {mounts - volumes} have no volume"


def check_ray_cluster_spec(spec: dict, what: str) -> set[str]:
    """The fields KubeRay requires; returns the custom resources the worker groups offer."""
    assert re.fullmatch(r"2\.\d+\.\d+", spec["rayVersion"]), what
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict), what
    check_pod_template(head["template"], f"{what} head")
    offered: set[str] = set()
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"], what
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], what
        assert all(isinstance(v, str) for v in group["rayStartParams"].values()), "rayStartParams values are strings"
        if "resources" in group["rayStartParams"]:
            # KubeRay passes it to `ray start --resources`, as a quoted JSON string
            offered |= set(json.loads(json.loads(group["rayStartParams"]["resources"])))
        check_pod_template(group["template"], f"{what} {group['groupName']}")
    return offered


def suite_platform_resources(suite_path: Path) -> set[str]:
    spec, _ = load_suite(suite_path)
    return {name for p in spec.platforms.values() for name in p.resources}


def test_every_deploy_file_is_checked():
    files = {p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file()}
    assert files == {"Dockerfile", "README.md", "kuberay/raycluster.yaml", "kuberay/rayjob.yaml", "cluster-launcher/aws.yaml"}


def test_kuberay_raycluster():
    docs = documents(DEPLOY / "kuberay" / "raycluster.yaml")
    by_kind = {d["kind"]: d for d in docs}
    assert by_kind["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]  # every pod sees the storage
    cluster = by_kind["RayCluster"]
    assert cluster["apiVersion"] == "ray.io/v1"
    offered = check_ray_cluster_spec(cluster["spec"], "RayCluster")
    assert suite_platform_resources(REPO / "suites" / "cluster.toml") <= offered


def test_kuberay_rayjob_runs_a_real_command_on_a_cluster_with_the_suites_platforms():
    [job] = documents(DEPLOY / "kuberay" / "rayjob.yaml")
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    spec = job["spec"]
    words = shlex.split(spec["entrypoint"])
    check_raylife_command(words)
    offered = check_ray_cluster_spec(spec["rayClusterSpec"], "RayJob")
    suite = REPO / words[2]
    assert suite_platform_resources(suite) <= offered, "the cluster must offer every platform the suite asks for"
    db = words[words.index("--db") + 1]
    mounts = {m["mountPath"] for c in spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]
              for m in c.get("volumeMounts", [])}
    assert any(db.startswith(m + "/") for m in mounts), "the database must be written to the shared volume"
    assert spec["submissionMode"] in {"K8sJobMode", "HTTPMode", "SidecarMode", "InteractiveMode"}


def test_cluster_launcher_config():
    [config] = documents(DEPLOY / "cluster-launcher" / "aws.yaml")
    for key in ("cluster_name", "max_workers", "provider", "available_node_types", "head_node_type"):
        assert key in config, key
    assert config["provider"]["type"] and config["provider"]["region"]
    types = config["available_node_types"]
    assert config["head_node_type"] in types
    for name, node in types.items():
        assert "node_config" in node and "resources" in node, name
    workers = sum(n.get("max_workers", 0) for k, n in types.items() if k != config["head_node_type"])
    assert workers <= config["max_workers"]
    offered = {r for n in types.values() for r in n["resources"]}
    assert suite_platform_resources(REPO / "suites" / "cluster.toml") <= offered
    text = (DEPLOY / "cluster-launcher" / "aws.yaml").read_text()
    [command] = re.findall(r"-- (raylife submit .*?)\n#\s+(--.*?)\n", text)
    check_raylife_command(shlex.split(" ".join(command).replace("\\", "")))


def test_dockerfile_builds_from_this_repo_and_names_real_commands():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM rayproject/ray:2\.\d+\.\d+", text, re.M)
    for source in re.findall(r"^COPY (?:--\S+ )*(.+?) \S+$", text, re.M):
        for path in source.split():
            assert (REPO / path).exists(), f"COPY {path}: not in the repository"
    [cmd] = re.findall(r"^CMD (\[.*\])$", text, re.M)
    words = json.loads(cmd)
    assert words[0] == "raylife"
    from importlib.metadata import entry_points

    assert any(ep.name == "raylife" for ep in entry_points(group="console_scripts"))
    assert "suites" in text  # the RayJob's entrypoint runs a suite from the image


@pytest.mark.parametrize("path", ["README.md", "deploy/README.md"])
def test_readmes_take_a_user_to_kuberay(path):
    text = (REPO / path).read_text()
    assert "deploy/kuberay/rayjob.yaml" in text and "kubectl apply" in text

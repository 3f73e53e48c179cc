"""Pretrained weights (``[[models]] weights``): a PyTorch state_dict or Keras HDF5 weights file, local or in object
storage, or a local Hugging Face model folder for a decoder (config.json + model.safetensors, in either framework),
checked against the architecture before Ray starts and loaded by the training loop before its first step.

The check builds the model in its framework, so it runs in a child process with that framework's environment
(``TF_USE_LEGACY_KERAS``, no GPU): the driver never imports torch or TensorFlow. A file of another architecture ends
in one line naming the first tensor whose name or shape differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from raylife.errors import PlanError
from raylife.frameworks.model import Recipe


@contextmanager
def local_weights(location: str) -> Iterator[Path]:
    """The weights file on this machine's disk for as long as it is read: itself when local, else a copy from the
    object store, removed afterwards."""
    from raylife.errors import StorageError
    from raylife.artifacts import Location

    where = Location.parse(location)
    if not where.remote:
        yield Path(where.uri)
        return
    fs, path = where.filesystem()
    with tempfile.TemporaryDirectory(prefix="raylife-weights-") as tmp:
        local = Path(tmp) / Path(path).name
        try:
            with fs.open_input_stream(path) as source, open(local, "wb") as target:
                while chunk := source.read(8 * 2**20):
                    target.write(chunk)
        except (OSError, FileNotFoundError) as exc:
            raise StorageError(f"cannot read weights at {where.redacted()}: {str(exc).splitlines()[0]}") from None
        yield local


def check_weights(framework: str, recipe: Recipe, location: str, where: str, timeout_s: float = 600,
                  python_path: tuple[str, ...] = ()) -> None:
    """PlanError unless the weights at ``location`` fit the model ``recipe`` builds (see the module)."""
    from raylife.frameworks import FRAMEWORKS
    from raylife.artifacts import Location

    target = Location.parse(location)
    local = Path(target.uri)
    if not target.remote and not (local.is_file() or local.is_dir()):
        raise PlanError(f"weights file not found: {target.uri}", where=where,
                        hint="check the path (relative paths start at the suite file)")
    env = {**os.environ, **FRAMEWORKS.get(framework).env_vars, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([*python_path, *filter(None, [env.get("PYTHONPATH")])])
    with local_weights(location) as path:
        done = subprocess.run([sys.executable, "-m", "raylife.frameworks.weights", framework, str(path)],
                              input=recipe.to_json(), capture_output=True, text=True, env=env, timeout=timeout_s)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PlanError(f"cannot check weights {target.redacted()} against model '{recipe.model}' ({framework}): {last}",
                        where=where, hint="check that the model builds (raylife validate) and the file is readable")
    problem = json.loads(lines[-1])["problem"]
    if problem:
        raise PlanError(f"weights {target.redacted()} do not fit model '{recipe.model}' ({framework}): {problem}",
                        where=where, hint="use weights saved from this architecture with these options and classes")


def _main(framework: str, path: str) -> None:
    from raylife.frameworks import FRAMEWORKS

    backend = FRAMEWORKS.get(framework).load_backend()
    model = backend.build_model(Recipe.from_json(sys.stdin.read()))
    print(json.dumps({"problem": backend.weights_problem(model, Path(path))}))


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])

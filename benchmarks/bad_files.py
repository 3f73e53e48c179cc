"""A folder with a truncated JPEG and a stray text file, submitted as a user would: with ``on_bad_file = "fail"``
(the default) every run must end in one ``Error:`` line naming the JPEG; with ``"skip"`` the trial completes and
stores files_skipped = 1 and the ignored stray file.

    python benchmarks/bad_files.py [--runs 5] [--busy-runs 1]

``--busy-runs N`` runs the last N of the failing runs with two busy loops beside them (a loaded machine: the error must
not depend on timing). Prints one line per run and exits 1 if any run said something else.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
# the tests' one-small-CNN suite (tests/ray/helpers.one_small_cnn) on the corrupt folder
DATA = """[data]
format = "imagefolder"
path = "corrupt"
options = {{ size = 32 }}
on_bad_file = "{policy}"
"""


def folder(root: Path) -> Path:
    """A learnable folder (4 classes x 30 JPEGs), one file of the training split cut in half, a stray text file."""
    sys.path.insert(0, str(REPO))
    from tests.ray.runs import corrupt_copy

    from raylife.workloads.vision.make_images import write_image_folder

    write_image_folder(root / "images", 4, 30, size=32, seed=1)
    return corrupt_copy(root / "images", root / "corrupt")


def submit(root: Path, policy: str, n: int) -> tuple[subprocess.CompletedProcess, float, Path]:
    suite = root / f"{policy}-{n}.toml"
    from tests.ray.helpers import one_small_cnn

    suite.write_text(one_small_cnn("bad-files") + DATA.format(policy=policy))
    db = root / f"{policy}-{n}.duckdb"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "raylife", "submit", str(suite), "--db", str(db), "--storage-path",
                             str(root / f"art-{policy}-{n}")], capture_output=True, text=True, cwd=REPO)
    return result, time.perf_counter() - started, db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy-runs", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="raylife-bad-files-"))
    bad = folder(root)
    print(f"folder {root / 'corrupt'}: truncated {bad.relative_to(root)}, stray corrupt/class_1/notes.txt")
    wrong = 0
    for n in range(args.runs):
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)] \
            if n >= args.runs - args.busy_runs else []
        try:
            result, wall, _ = submit(root, "fail", n)
        finally:
            for loop in busy:
                loop.kill()
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error: ")]
        named = result.returncode == 1 and len(errors) == 1 and str(bad) in errors[0]
        wrong += not named
        print(f"fail run {n + 1}{' (2 busy loops beside it)' if busy else ''}: exit {result.returncode}, {wall:.0f} s, "
              f"{'named' if named else 'WRONG'}: {errors[0] if errors else (result.stdout + result.stderr)[-400:]}")
    result, wall, db = submit(root, "skip", 0)
    with duckdb.connect(str(db), read_only=True) as con:
        stored = dict(((m, (v, json.loads(l)["files"])) for m, v, l in con.execute(
            "SELECT metric, value, CAST(labels AS VARCHAR) FROM measurements "
            "WHERE metric IN ('files_skipped', 'files_ignored')").fetchall()))
    skipped_ok = result.returncode == 0 and stored.get("files_skipped") == (1, [str(bad)]) and \
        stored.get("files_ignored", (0, []))[0] == 1
    wrong += not skipped_ok
    print(f"skip run: exit {result.returncode}, {wall:.0f} s, {'ok' if skipped_ok else 'WRONG'}: {stored}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()

"""Where the default test run's CPU goes: runs pytest (README's test command, or the arguments given after ``--``),
samples every process on the machine once a second from /proc, and charges each process's CPU time to what started
it, by ancestry: a ``raylife submit`` run (by its suite's file name), the Ray nodes a test started with ``ray start``,
or the test process and the Ray processes it started itself. Prints CPU-seconds per part, the total, the wall time
and how many of the machine's cores were busy on average.

    python benchmarks/test_cpu.py                       # the whole default run
    python benchmarks/test_cpu.py -- tests/ray -k resume

On 2 cores the default run is CPU-bound, so its wall time is its CPU work over the cores: a cut that does not remove
CPU-seconds here does not shorten the run. Linux only (/proc). A process that lives less than a second between two
samples is missed, and CPU charged to processes that were running before the tests began is left out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sample:
    ppid: int
    cpu_s: float
    command: str


def read(pid: int) -> Sample | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None  # gone between the listing and the read
    fields = stat[stat.rindex(")") + 2:].split()  # the command name in parentheses may hold spaces
    return Sample(ppid=int(fields[1]), cpu_s=(int(fields[11]) + int(fields[12])) / HZ, command=command)


def part_of(command: str, parent_part: str, is_root: bool) -> str:
    if is_root:
        return "test process and its own Ray"
    if " raylife submit " in f" {command} " or "-m raylife submit" in command:
        suite = next((word for word in command.split() if word.endswith(".toml")), "?")
        return f"raylife submit {Path(suite).name}"
    if "ray start" in command and parent_part == "test process and its own Ray":
        return "Ray nodes started with `ray start`"
    return parent_part


class Ledger:
    """CPU seconds per process, and the part each process belongs to (fixed when first seen, while its parent lives)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.parts: dict[int, str] = {}
        self.cpu: dict[int, float] = {}
        self.before: dict[int, float] = {}  # processes already running at the start: only what they spend after it

    def sample(self, first: bool = False) -> None:
        found = {int(d): s for d in os.listdir("/proc") if d.isdigit() and (s := read(int(d))) is not None}
        for pid in found:
            self._classify(pid, found)
            if first and pid != self.root:
                self.before[pid] = found[pid].cpu_s
            self.cpu[pid] = found[pid].cpu_s

    def _classify(self, pid: int, found: dict[int, Sample]) -> str:
        chain, current = [], pid
        while current not in self.parts and current in found and current > 1:
            chain.append(current)
            current = found[current].ppid
        part = self.parts.get(current, "other processes on the machine")
        for member in reversed(chain):
            if member == self.root or part != "other processes on the machine":
                part = part_of(found[member].command, part, member == self.root)
            self.parts[member] = part
        return self.parts.get(pid, "other processes on the machine")  # pid 1 and the kernel's own

    def totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for pid, cpu in self.cpu.items():
            totals[self.parts.get(pid, "other processes on the machine")] += cpu - self.before.get(pid, 0.0)
        return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest after --; default: none (the whole run)")
    args = parser.parse_args()
    if not Path("/proc/self/stat").exists():
        print("Error: this benchmark reads /proc (Linux only)", file=sys.stderr)
        return 1
    pytest = REPO / ".venv" / "bin" / "pytest"
    if not pytest.exists():
        print(f"Error: {pytest} not found; run `make install` first", file=sys.stderr)
        return 1
    started = time.monotonic()
    tests = subprocess.Popen([str(pytest), *args.pytest_args], cwd=REPO)
    ledger = Ledger(tests.pid)
    ledger.sample(first=True)
    while tests.poll() is None:
        time.sleep(1.0)
        ledger.sample()
    wall = time.monotonic() - started
    totals = ledger.totals()
    spent = sum(v for k, v in totals.items() if k != "other processes on the machine")
    print(f"\npytest exited {tests.returncode} after {wall:.0f} s; CPU-seconds by part:")
    for part, seconds in totals.most_common():
        print(f"  {seconds:8.1f}  {part}")
    print(f"  {spent:8.1f}  in all (the tests' own), {spent / wall:.2f} of {os.cpu_count()} cores busy on average")
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())

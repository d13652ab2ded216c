"""Timing, memory sampling and the worker protocol shared by every benchmark.

Each measurement runs in a fresh worker process (``python -m bench.worker``) so that peak
memory belongs to that measurement only; within a worker the variants being compared are
interleaved run by run, so that a burst of load from another process hits both alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "Runs",
    "Sampler",
    "call_worker",
    "load_average",
    "median_ratio",
    "timed_process",
]

ROOT = Path(__file__).resolve().parent.parent


def load_average() -> float:
    """The 1-minute load average (the machine has other users: it goes with every figure)."""
    return round(os.getloadavg()[0], 2)


class Sampler:
    """Peak RSS of this process and, separately, of its child processes (Spark's JVM)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak_self = 0
        self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak_self = max(self.peak_self, me.memory_info().rss)
            children = 0
            for child in me.children(recursive=True):
                try:
                    children += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_children = max(self.peak_children, children)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Runs:
    """Repeated runs of one variant: seconds, peak memory (MiB) and load average per run."""

    seconds: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)
    peak_jvm_mib: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    def record(self, fn: Callable[[], Any]) -> None:
        self.load.append(load_average())
        with Sampler() as sampler:
            started = time.perf_counter()
            fn()
            self.seconds.append(time.perf_counter() - started)
        self.peak_rss_mib.append(round(sampler.peak_self / 2**20, 1))
        self.peak_jvm_mib.append(round(sampler.peak_children / 2**20, 1))

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def summary(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "median_s": round(self.median_s, 3),
            "max_peak_rss_mib": max(self.peak_rss_mib, default=0.0),
            "max_peak_jvm_mib": max(self.peak_jvm_mib, default=0.0),
        }


def median_ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float:
    """The median of the per-round ratios of two interleaved variants.

    Runs of one round are seconds apart, rounds are minutes apart: when the load of the
    machine drifts between rounds, the ratio within a round stays meaningful while the ratio
    of the two medians does not.
    """
    pairs = zip(numerator["seconds"], denominator["seconds"], strict=True)
    return round(statistics.median(a / b for a, b in pairs), 3)


@contextmanager
def _timer() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.perf_counter()
    yield box
    box.append(time.perf_counter() - started)


def call_worker(task: str, *, timeout_s: float = 3600, **params: Any) -> dict[str, Any]:
    """Run ``bench.worker <task>`` in a fresh process; its last stdout line is a JSON result."""
    command = [sys.executable, "-m", "bench.worker", task, json.dumps(params)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {task} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_process(command: list[str], *, timeout_s: float = 3600) -> dict[str, Any]:
    """Wall time of a whole process (start-up included), with the load when it started."""
    load = load_average()
    with _timer() as elapsed:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    tail = done.stdout.strip().splitlines()[-1:] or [""]
    return {"seconds": elapsed[0], "load": load, "returncode": done.returncode, "tail": tail[0]}

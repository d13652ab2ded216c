"""Processes that end with the process that started them (no dagster import: runs remotely)."""

from __future__ import annotations

import ctypes
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``signum`` to this process when its parent dies.

    A killed Dagster run worker would otherwise leave its step process, the step's Spark
    subprocess and that one's JVM running headless (they finish, or never do, with nobody
    listening). SIGTERM lets each of them clean up on the way out. On other systems this
    does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)

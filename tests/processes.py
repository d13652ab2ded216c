"""The processes of this machine as Linux's /proc shows them, for tests and emulators that
must see what a launch left running: a session's members, a process' descendants."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Process", "descendants", "processes", "session_processes"]


@dataclass(frozen=True)
class Process:
    pid: int
    state: str  # R, S, D, Z (zombie), X (dead), ...
    ppid: int
    session: int

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def processes() -> Iterator[Process]:
    """Every process that can be read now (one that ends meanwhile is left out)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # after "pid (command)": state, ppid, pgrp, session, ...
                fields = stat.read().rsplit(")", 1)[1].split()
            yield Process(int(entry.name), fields[0], int(fields[1]), int(fields[3]))
        except (OSError, IndexError, ValueError):
            continue


def session_processes(session_id: int) -> list[int]:
    """Live (not zombie) processes of session ``session_id``."""
    return [p.pid for p in processes() if p.session == session_id and p.alive]


def descendants(pid: int) -> list[int]:
    """The children of ``pid``, their children, and so on."""
    children: dict[int, list[int]] = {}
    for process in processes():
        children.setdefault(process.ppid, []).append(process.pid)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid: int) -> str:
    """The command line of ``pid`` ("" once it has ended)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""

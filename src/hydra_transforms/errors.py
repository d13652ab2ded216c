"""Engine errors in one line, cause first.

A failed Spark read or write surfaces in Python as ``Py4JJavaError: An error occurred while
calling o95.save`` (or a pyspark ``CapturedException`` whose first line is a wrapper such as
``[FAILED_READ_FILE.NO_HINT] Encountered error while reading file``), with the cause that
matters — a path that does not exist, a permission, a corrupt file — a hundred lines down
the Java stack trace. :func:`describe_error` walks the Java cause chain to its innermost
exception and puts that first. Every place that reports an engine error (the runner, the
``hydra`` command line, the orchestration step) uses it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EngineError", "Interrupted", "cancellable", "describe_error", "interrupt_on_signals"]

_MAX_CAUSES = 20


class EngineError(RuntimeError):
    """An engine failed to read or write a dataset; the message leads with the cause."""


class Interrupted(BaseException):
    """The process was asked to stop (SIGTERM, SIGINT). A BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` swallows it on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


@dataclass
class _Signals:
    """The state shared by the signal handler and :func:`cancellable` (main thread only)."""

    received: int | None = None
    cancel: Callable[[], None] | None = None  # set inside cancellable()


_SIGNALS = _Signals()


@contextlib.contextmanager
def interrupt_on_signals(
    signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[None]:
    """Within the block, stop cleanly when one of ``signals`` arrives: raise
    :class:`Interrupted` in the main thread, or — while the main thread waits for an engine
    inside :func:`cancellable` — ask the engine to stop and raise once its call has returned.
    The previous handlers come back after the block.

    It replaces PySpark's own SIGINT handler, which calls into the JVM from inside the handler
    while the main thread may be waiting on the same connection ("reentrant call"), and
    Python's default SIGTERM, which exits without any cleanup.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; elsewhere the caller's stay
        return

    def handler(signum: int, frame: Any) -> None:
        _SIGNALS.received = signum
        if _SIGNALS.cancel is None:
            raise Interrupted(signum)
        # From a thread: the handler runs in the main thread, which is in the middle of a
        # call into the engine (for Spark, on the very connection a cancel would need).
        threading.Thread(target=_SIGNALS.cancel, name="hydra-cancel", daemon=True).start()

    _SIGNALS.received = None
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def cancellable(cancel: Callable[[], None]) -> Iterator[None]:
    """Engine work that a signal stops by ``cancel()`` rather than by an exception in the
    middle of the engine's call: the call then returns (failed), the engine has stopped
    writing, and :class:`Interrupted` is raised here — so that what the caller does next
    (remove staging output) cannot race the engine."""
    outer, _SIGNALS.cancel = _SIGNALS.cancel, cancel
    try:
        yield
    except Exception as exc:
        if _SIGNALS.received is not None:
            raise Interrupted(_SIGNALS.received) from exc
        raise
    finally:
        _SIGNALS.cancel = outer
    if _SIGNALS.received is not None:
        raise Interrupted(_SIGNALS.received)


def describe_error(exc: BaseException) -> str:
    """``exc`` as one line: for a Spark error, its innermost Java cause (the wrappers around
    it — job aborted, task failed — say nothing the caller does not know); for anything
    else, the type and the first line of the message."""
    java = _java_throwable(exc)
    if java is not None:
        return _java_line(_causes(java)[-1])
    for inner in _python_causes(exc):
        if _java_throwable(inner) is not None:
            return describe_error(inner)
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _java_throwable(exc: BaseException) -> Any:
    # Py4JJavaError keeps the Java exception as .java_exception; pyspark's captured
    # exceptions (AnalysisException, SparkRuntimeException, ...) keep it as ._origin.
    return getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)


def _causes(throwable: Any) -> list[Any]:
    chain = [throwable]
    while len(chain) < _MAX_CAUSES:
        try:
            cause = chain[-1].getCause()
        except Exception:  # the JVM is gone: use what we have
            break
        if cause is None or any(cause.equals(seen) for seen in chain):
            break
        chain.append(cause)
    return chain


def _java_line(throwable: Any) -> str:
    try:
        name = throwable.getClass().getName()
    except Exception:
        name = "JavaException"
    message = _first_line(_java_message(throwable))
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message else name.rsplit(".", 1)[-1]


def _java_message(throwable: Any) -> str:
    try:
        return str(throwable.getMessage() or "")
    except Exception:
        return ""


def _python_causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and current not in seen and len(seen) < _MAX_CAUSES:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""

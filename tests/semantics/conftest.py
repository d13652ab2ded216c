"""The engine-semantics suite (docs/engines.md): one property per operation, on every engine."""

from __future__ import annotations

import importlib

import pytest


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: only the selected tests are seen
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Import the exceptions that ``xfail(raises=...)`` names by dotted path.

    A known difference where Spark raises names a PySpark exception; importing pyspark at
    collection would cost every ``-m duckdb`` run ~0.4 s, so ``support.differs`` takes its
    path, and it is imported here only for a selected test.
    """
    for item in items:
        for index, mark in enumerate(item.own_markers):
            raises = mark.kwargs.get("raises") if mark.name == "xfail" else None
            if isinstance(raises, str):
                module, _, name = raises.rpartition(".")
                kwargs = {**mark.kwargs, "raises": getattr(importlib.import_module(module), name)}
                item.own_markers[index] = pytest.mark.xfail(*mark.args, **kwargs).mark

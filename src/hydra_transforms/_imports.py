"""Keep what the DuckDB path does not use out of ``import hydra_transforms``.

Measured with ``python -X importtime -c "import hydra_transforms as ht; ht.connect('duckdb')"``
(docs/benchmarks.md has the figures). Two dependencies load far more than they use:

- ibis imports every SQL compiler (Athena, BigQuery, Trino, ... twenty of them, and the
  sqlglot dialect of each) as soon as one backend is used, because the package
  ``ibis.backends.sql.compilers`` imports them all in its ``__init__``. Here that package is
  registered without running its ``__init__``: each compiler module is imported when it is
  first asked for (``sc.duckdb``, ``sc.pyspark``, ``from ... import TrinoCompiler``).
- pandera imports ``pyspark`` and ``pyspark.pandas`` whenever pyspark is installed, to offer
  type annotations for pyspark dataframes that this project never uses (its contracts are
  ``pandera.ibis`` models, run by :mod:`hydra_transforms.contracts`). While pandera itself is
  imported, pyspark is hidden from it; pyspark imports normally afterwards. In a process that
  imported pyspark first, nothing is hidden.

Both are done when this module is imported, which ``hydra_transforms/__init__.py`` does
first, before anything imports ibis or pandera; tests/transforms/test_library_import.py
checks that they hold and that every engine and dialect still works.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_COMPILERS = "ibis.backends.sql.compilers"


def lazy_ibis_compilers() -> None:
    """Register ``ibis.backends.sql.compilers`` as a package whose members load on demand."""
    if _COMPILERS in sys.modules:
        return
    spec = importlib.util.find_spec(_COMPILERS)
    if spec is None or spec.submodule_search_locations is None:  # pragma: no cover
        return  # another ibis layout: leave it alone
    package = types.ModuleType(_COMPILERS)
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__package__ = _COMPILERS

    def member(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # A compiler class is named after its module: DuckDBCompiler in compilers/duckdb.py.
        module = name[: -len("Compiler")].lower() if name.endswith("Compiler") else name
        try:
            loaded = importlib.import_module(f"{_COMPILERS}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{_COMPILERS}.{module}":
                raise
            raise AttributeError(f"module {_COMPILERS!r} has no attribute {name!r}") from None
        return getattr(loaded, name) if module != name else loaded

    package.__getattr__ = member  # type: ignore[method-assign]
    sys.modules[_COMPILERS] = package
    parent: Any = importlib.import_module("ibis.backends.sql")
    parent.compilers = package


def import_pandera_without_pyspark() -> None:
    """Import ``pandera.ibis`` with pyspark hidden, unless pyspark is already loaded."""
    if "pandera" in sys.modules or "pyspark" in sys.modules:
        return
    sys.modules["pyspark"] = None  # type: ignore[assignment]  # makes "import pyspark" fail
    try:
        importlib.import_module("pandera.ibis")
    finally:
        if sys.modules.get("pyspark", "") is None:
            del sys.modules["pyspark"]


lazy_ibis_compilers()
import_pandera_without_pyspark()

"""Write a transformation once as an Ibis expression with Pandera contracts; run it anywhere.

>>> import hydra_transforms as ht
>>> from hydra_transforms.example import registry
>>> engine = ht.connect("duckdb")
>>> results = ht.run_pipeline(registry, engine=engine, sources=..., warehouse="warehouse")
"""

# First, before ibis and pandera load: see _imports for what it keeps out and why.
from hydra_transforms import _imports  # noqa: F401
from hydra_transforms.contracts import CheckFailure, ContractViolation, ValidationReport, validate
from hydra_transforms.engines import (
    ENGINES,
    CsvReadError,
    Engine,
    connect,
    local_spark_session,
    to_arrow,
)
from hydra_transforms.parity import (
    ParityError,
    ParityReport,
    assert_parity,
    check_parity,
    compare_tables,
)
from hydra_transforms.registry import CsvDialect, Registry, Source, Transform
from hydra_transforms.runner import RunResult, read_dataset, run_pipeline, run_transform

__all__ = [
    "ENGINES",
    "CheckFailure",
    "ContractViolation",
    "CsvDialect",
    "CsvReadError",
    "Engine",
    "ParityError",
    "ParityReport",
    "Registry",
    "RunResult",
    "Source",
    "Transform",
    "ValidationReport",
    "assert_parity",
    "check_parity",
    "compare_tables",
    "connect",
    "local_spark_session",
    "read_dataset",
    "run_pipeline",
    "run_transform",
    "to_arrow",
    "validate",
]

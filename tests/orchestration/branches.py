"""A registry with two branches for orchestration tests: one breaks its contract, one does not."""

from __future__ import annotations

import ibis.expr.types as ir
import pandera.ibis as pa

from hydra_transforms.registry import Registry
from tests.orchestration.demo import Numbers


class Positive(pa.DataFrameModel):
    n: int = pa.Field(gt=0)


registry = Registry("branches")
registry.source("numbers", format="csv", contract=Numbers, description="Integers, one per line.")


@registry.transform(inputs={"numbers": "numbers"}, contract=Positive)
def negated(numbers: ir.Table) -> ir.Table:
    """Breaks its contract on positive input."""
    return numbers.mutate(n=-numbers.n)


@registry.transform(inputs={"negated": "negated"}, contract=Numbers)
def after_negated(negated: ir.Table) -> ir.Table:
    """Reads the broken branch: must not run."""
    return negated


@registry.transform(inputs={"numbers": "numbers"}, contract=Positive)
def squared(numbers: ir.Table) -> ir.Table:
    """An independent branch that honours its contract."""
    return numbers.mutate(n=numbers.n * numbers.n)

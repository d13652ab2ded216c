"""A two-step registry for orchestration tests: its first output breaks its contract on demand."""

from __future__ import annotations

import ibis.expr.types as ir
import pandera.ibis as pa

from hydra_transforms.registry import Registry


class Numbers(pa.DataFrameModel):
    n: int = pa.Field()


class NonNegative(pa.DataFrameModel):
    n: int = pa.Field(ge=0)


registry = Registry("demo")
registry.source("numbers", format="csv", contract=Numbers, description="Integers, one per line.")


@registry.transform(inputs={"numbers": "numbers"}, contract=NonNegative)
def doubled(numbers: ir.Table) -> ir.Table:
    """Every number times two (negative input breaks the output contract)."""
    return numbers.mutate(n=numbers.n * 2)


@registry.transform(inputs={"doubled": "doubled"}, contract=NonNegative)
def total(doubled: ir.Table) -> ir.Table:
    """The sum of the doubled numbers."""
    return doubled.aggregate(n=doubled.n.sum().cast("int64"))

"""Registries for fault tests: ``registry`` writes a billion rows (a write that takes long
enough to be interrupted); ``small`` writes the same dataset with a handful."""

from __future__ import annotations

import ibis.expr.types as ir
import pandera.ibis as pa
import pyarrow

from hydra_transforms.registry import Registry


class Keys(pa.DataFrameModel):
    k: int = pa.Field()


class Cube(pa.DataFrameModel):
    x: int = pa.Field()


def _keys(n: int) -> pyarrow.Table:
    return pyarrow.table({"k": pyarrow.array(range(n), pyarrow.int64())})


def _cube(keys: ir.Table) -> ir.Table:
    a, b, c = (keys.select(**{name: keys.k}) for name in "abc")
    cube = a.cross_join(b).cross_join(c)
    return cube.select(x=cube.a * 1_000_000 + cube.b * 1_000 + cube.c)


registry = Registry("slow")
registry.source("keys", format="builtin", contract=Keys, loader=lambda: _keys(1_000))
registry.transform(inputs={"keys": "keys"}, contract=Cube, name="cube")(_cube)

small = Registry("small")
small.source("keys", format="builtin", contract=Keys, loader=lambda: _keys(2))
small.transform(inputs={"keys": "keys"}, contract=Cube, name="cube")(_cube)


@small.transform(inputs={"keys": "keys"}, contract=Cube)
def divided(keys: ir.Table) -> ir.Table:
    """Fails while it is written on Spark (ANSI mode: division by zero raises)."""
    return keys.select(x=keys.k // (keys.k - keys.k))

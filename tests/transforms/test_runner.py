"""Running a transform: partitioned Parquet output, published atomically, never half-written."""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir
import pandera.ibis as pa
import pyarrow
import pyarrow.parquet as pq
import pytest

from hydra_transforms import runner
from hydra_transforms.contracts import ContractViolation
from hydra_transforms.engines import Engine
from hydra_transforms.registry import Registry
from hydra_transforms.runner import run_pipeline, run_transform
from hydra_transforms.storage import PublishError, publish


class Events(pa.DataFrameModel):
    day: str = pa.Field(str_matches=r"^d[0-9]$")
    amount: str = pa.Field()


class Totals(pa.DataFrameModel):
    day: str = pa.Field()
    total: int = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["day"]


registry = Registry("runner_demo")
registry.source("events", format="parquet", contract=Events, partition_column="day")


@registry.transform(inputs={"events": "events"}, contract=Totals, partition_column="day")
def totals(events: ir.Table) -> ir.Table:
    """Sum of amounts per day; amounts are numbers written as text."""
    return events.group_by("day").aggregate(total=events.amount.cast("int64").sum().cast("int64"))


def _events(root: Path, rows: dict[str, list[str]]) -> Path:
    """Write events as a hive-partitioned dataset: root/day=<d>/part-0.parquet."""
    for day, amounts in rows.items():
        (root / f"day={day}").mkdir(parents=True, exist_ok=True)
        pq.write_table(pyarrow.table({"amount": amounts}), root / f"day={day}" / "part-0.parquet")
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _leftovers(parent: Path) -> list[str]:
    return sorted(
        p.name for p in parent.iterdir() if ".staging-" in p.name or ".replaced-" in p.name
    )


def _totals(engine: Engine, output: Path) -> dict[str, int]:
    rows = engine.read_parquet(str(output)).to_pyarrow().to_pylist()
    return {r["day"]: r["total"] for r in rows}


def test_writes_hive_partitioned_parquet_and_reports(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"d1": ["1", "2"], "d2": ["5"]})
    output = tmp_path / "out" / "totals"
    result = run_transform(
        registry, "totals", engine=engine, inputs={"events": source}, output=output, preview_rows=2
    )
    assert sorted(p.name for p in output.iterdir() if p.is_dir()) == ["day=d1", "day=d2"]
    assert _totals(engine, output) == {"d1": 3, "d2": 5}
    assert result.rows == 2
    assert result.schema == {"total": "int64", "day": "string"}
    assert result.output_report is not None
    assert result.output_report.passed
    assert [r.dataset for r in result.input_reports] == ["events"]
    assert len(result.preview) == 2
    assert _leftovers(output.parent) == []


def test_a_partition_run_replaces_only_that_partition(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"d1": ["1"], "d2": ["5"]})
    output = tmp_path / "totals"
    run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    _events(source, {"d1": ["10", "20"], "d2": ["7"]})  # both days change upstream
    result = run_transform(
        registry, "totals", engine=engine, inputs={"events": source}, output=output, partition="d1"
    )
    assert result.rows == 1
    assert _totals(engine, output) == {"d1": 30, "d2": 5}


def test_a_contract_failure_keeps_the_previous_output(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"d1": ["1"], "d2": ["5"]})
    output = tmp_path / "totals"
    run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    before = _snapshot(output)
    _events(source, {"d1": ["-100"]})  # a negative total breaks the output contract
    with pytest.raises(
        ContractViolation, match=r"column 'total' failed greater_than_or_equal_to\(0\)"
    ):
        run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    assert _snapshot(output) == before
    assert _leftovers(tmp_path) == []


def test_an_engine_error_mid_write_keeps_the_previous_output(
    engine: Engine, tmp_path: Path
) -> None:
    source = _events(tmp_path / "events", {"d1": ["1"]})
    output = tmp_path / "totals"
    run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    before = _snapshot(output)
    _events(source, {"d1": ["not a number"]})  # the cast fails while the engine writes
    with pytest.raises(Exception, match=r"(?i)cast|convert|not a number"):
        run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    assert _snapshot(output) == before
    assert _leftovers(tmp_path) == []


def test_an_input_contract_failure_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"x1": ["1"]})
    output = tmp_path / "totals"
    with pytest.raises(
        ContractViolation, match="dataset 'events' failed contract Events"
    ) as caught:
        run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    assert "e.g. 'x1'" in str(caught.value)
    assert not output.exists()
    assert _leftovers(tmp_path) == []


def test_missing_inputs_and_wrong_partitions_are_clear_errors(
    engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="needs input 'events'; given: nothing"):
        run_transform(registry, "totals", engine=engine, inputs={})
    with pytest.raises(ValueError, match="'events' is a source, not a transform"):
        run_transform(registry, "events", engine=engine, inputs={})
    with pytest.raises(ValueError, match="s3://bucket/totals is not a local path"):
        run_transform(registry, "totals", engine=engine, inputs={}, output="s3://bucket/totals")


def test_publish_refuses_a_partition_run_that_produced_other_partitions(tmp_path: Path) -> None:
    staging = tmp_path / ".out.staging-1"
    for day in ("day=d1", "day=d9"):
        (staging / day).mkdir(parents=True)
        (staging / day / "part.parquet").write_bytes(b"x")
    output = tmp_path / "out"
    with pytest.raises(PublishError, match=r"other partitions \['day=d9'\]"):
        publish(staging, output, partition=("day", "d1"))
    assert not output.exists()
    assert not staging.exists()


def test_an_empty_partitioned_result_is_zero_rows_not_an_error(
    engine: Engine, tmp_path: Path
) -> None:
    source = _events(tmp_path / "events", {"d1": ["1"]})
    output = tmp_path / "totals"
    run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    empty = engine.read_parquet(str(source)).filter(lambda t: t.day == "none")
    result = run_transform(
        registry, "totals", engine=engine, inputs={"events": empty}, output=output, partition="d1"
    )
    assert result.rows == 0
    assert result.schema == {"day": "string", "total": "int64"}
    assert not (output / "day=d1").exists()  # the partition is now empty
    assert _leftovers(tmp_path) == []


def test_a_pipeline_run_checks_each_dataset_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chained = Registry("chained_demo")
    chained.source("events", format="parquet", contract=Events, partition_column="day")
    chained.transform(inputs={"events": "events"}, contract=Totals, partition_column="day")(
        totals.fn
    )

    @chained.transform(
        inputs={"totals": "totals", "events": "events"}, contract=Totals, partition_column="day"
    )
    def doubled(totals: ir.Table, events: ir.Table) -> ir.Table:
        """Reads one output of this run and one source again."""
        counts = events.group_by("day").aggregate(n=events.count())
        joined = totals.join(counts, "day")
        return joined.select("day", total=(joined.total * 2).cast("int64"))

    checked: list[str] = []
    original = runner.validate

    def counting(table: ir.Table, contract: object, *, dataset: str, **options: object) -> object:
        checked.append(dataset)
        return original(table, contract, dataset=dataset, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "validate", counting)
    source = _events(tmp_path / "events", {"d1": ["1", "2"], "d2": ["5"]})
    results = run_pipeline(
        chained,
        engine=engine,
        sources={"events": source},
        warehouse=tmp_path / "out",
        partition="d1",
    )
    assert sorted(checked) == ["doubled", "events", "totals"]
    assert _totals(engine, tmp_path / "out" / "doubled") == {"d1": 6}
    assert [r.rows for r in results.values()] == [1, 1]

    # Without a shared record, each transform checks all of its inputs again.
    checked.clear()
    run_transform(
        chained,
        "doubled",
        engine=engine,
        inputs={"totals": tmp_path / "out" / "totals", "events": source},
        partition="d1",
    )
    assert sorted(checked) == ["doubled", "events", "totals"]

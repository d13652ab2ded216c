"""Running a transform: partitioned Parquet output, published atomically, never half-written."""

from __future__ import annotations

import contextlib
import json
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
from hydra_transforms.runner import read_dataset, run_pipeline, run_transform
from hydra_transforms.storage import PublishError, publication, read_arrow, snapshot


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
    """Every file of the dataset but the writers' lock (it names the last writer)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("lock", ".manifest.json.mutex")
    }


def _leftovers(output: Path) -> list[str]:
    """Versions under the dataset that its manifest neither names nor keeps for readers."""
    versions, manifest_file = output / "_hydra" / "v", output / "_hydra" / "manifest.json"
    if not versions.exists():
        return []
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    manifest.setdefault("parts", {})
    manifest.setdefault("retired", [])
    kept = {*manifest["parts"].values(), *(r["prefix"] for r in manifest["retired"])}
    return sorted(p.name for p in versions.iterdir() if f"_hydra/v/{p.name}" not in kept)


def _totals(output: Path) -> dict[str, int]:
    return {r["day"]: r["total"] for r in read_arrow(output).to_pylist()}


def test_writes_hive_partitioned_parquet_and_reports(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"d1": ["1", "2"], "d2": ["5"]})
    output = tmp_path / "out" / "totals"
    result = run_transform(
        registry, "totals", engine=engine, inputs={"events": source}, output=output, preview_rows=2
    )
    published = snapshot(output)
    assert published is not None
    assert published.partition_column == "day"
    assert sorted(published.parts) == ["d1", "d2"]
    assert all(
        Path(uri, "part-0.parquet").parent.name.startswith("day=")
        for uri in published.parts.values()
    )
    assert _totals(output) == {"d1": 3, "d2": 5}
    assert result.rows == 2
    assert result.schema == {"total": "int64", "day": "string"}
    assert result.output_report is not None
    assert result.output_report.passed
    assert [r.dataset for r in result.input_reports] == ["events"]
    assert len(result.preview) == 2
    assert _leftovers(output) == []


def test_a_partition_run_replaces_only_that_partition(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"d1": ["1"], "d2": ["5"]})
    output = tmp_path / "totals"
    run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    _events(source, {"d1": ["10", "20"], "d2": ["7"]})  # both days change upstream
    result = run_transform(
        registry, "totals", engine=engine, inputs={"events": source}, output=output, partition="d1"
    )
    assert result.rows == 1
    assert _totals(output) == {"d1": 30, "d2": 5}
    parts = snapshot(output).parts  # type: ignore[union-attr]
    assert Path(parts["d1"]).parent != Path(parts["d2"]).parent  # d2 still the first version


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
    assert _leftovers(output) == []


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
    assert _leftovers(output) == []


def test_an_input_contract_failure_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    source = _events(tmp_path / "events", {"x1": ["1"]})
    output = tmp_path / "totals"
    with pytest.raises(
        ContractViolation, match="dataset 'events' failed contract Events"
    ) as caught:
        run_transform(registry, "totals", engine=engine, inputs={"events": source}, output=output)
    assert "e.g. 'x1'" in str(caught.value)
    assert not output.exists()


def test_missing_inputs_and_wrong_partitions_are_clear_errors(
    engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="needs input 'events'; given: nothing"):
        run_transform(registry, "totals", engine=engine, inputs={})
    with pytest.raises(ValueError, match="'events' is a source, not a transform"):
        run_transform(registry, "events", engine=engine, inputs={})
    with pytest.raises(ValueError, match="s3://bucket/events: reading s3:// needs the engine"):
        run_transform(registry, "totals", engine=engine, inputs={"events": "s3://bucket/events"})


def test_a_partition_run_that_produced_other_partitions_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with (
        contextlib.suppress(PublishError),
        publication(output, writer="test", partition_column="day") as version,
    ):
        for day in ("day=d1", "day=d9"):
            (Path(version.staging) / day).mkdir(parents=True)
            (Path(version.staging) / day / "part.parquet").write_bytes(b"x")
        with pytest.raises(PublishError, match=r"other partitions \['day=d9'\]"):
            version.commit(partition="d1")
        raise PublishError("leave the block without a commit")
    assert snapshot(output) is None  # nothing was committed
    assert _leftovers(output) == []  # and the version is gone


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
    assert snapshot(output).empty  # type: ignore[union-attr]  # the only partition is now empty
    assert read_dataset(engine, registry["totals"], output).count().execute() == 0
    assert _leftovers(output) == []


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
    assert _totals(tmp_path / "out" / "doubled") == {"d1": 6}
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

"""The `hydra` command line: readable output, and exit codes that say what happened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hydra_transforms.cli import EXIT_CONTRACT, EXIT_OK, EXIT_USAGE, main
from hydra_transforms.storage import read_arrow
from tests.conftest import SAMPLE_DIR


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_sources_and_transforms_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list")
    assert code == EXIT_OK
    assert "crawl_records (parquet, partitioned by crawl_id) contract CrawlRecords" in out
    names = [line.split()[0] for line in out.split("transforms")[1].splitlines()[1:]]
    assert names == ["nodes", "seed_rejections", "edges", "graph", "graph_aggr"]


def test_contracts_describe_columns_and_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "contracts", "graph")
    assert code == EXIT_OK
    assert "graph: Graph (strict)" in out
    assert "links: int64, not null, greater_than_or_equal_to(1)" in out
    assert "table check: pages_at_most_links" in out
    assert "unique: ['crawl_id', 'src_domain', 'dst_domain']" in out


@pytest.mark.duckdb
def test_validate_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "validate", "seed_nodes", str(SAMPLE_DIR / "seed_nodes.csv"))
    assert code == EXIT_OK
    assert out.startswith("dataset 'seed_nodes' passed contract SeedNodes (")


@pytest.mark.duckdb
def test_validate_a_bad_file_fails_with_a_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "seeds.csv"
    bad.write_text("company_id,company_name,website,country\n1,A,a.de,DE\n0,B,b.de,Germany\n")
    code, out, _ = _run(capsys, "validate", "SeedNodes", str(bad), "--json")
    assert code == EXIT_CONTRACT
    report = json.loads(out)
    assert report["passed"] is False
    assert {(f["column"], f["check"]) for f in report["failures"]} == {
        ("company_id", "greater_than_or_equal_to(1)"),
        ("country", "str_matches('^[A-Z]{2}$')"),
    }
    assert report["rows"] == 2


@pytest.mark.duckdb
def test_run_writes_output_and_prints_a_preview(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "nodes"
    code, out, _ = _run(
        capsys,
        "run",
        "nodes",
        "--input",
        f"seed_nodes={SAMPLE_DIR / 'seed_nodes.csv'}",
        "--output",
        str(out_dir),
        "--preview",
        "1",
    )
    assert code == EXIT_OK
    assert out.startswith("nodes on duckdb: ")
    assert f"-> {out_dir}" in out
    assert "'domain':" in out
    assert read_arrow(out_dir).num_rows > 0


@pytest.mark.duckdb
def test_a_contract_failure_in_run_exits_1_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "seeds.csv"
    bad.write_text("company_id,company_name,website,country\n-1,A,a.de,DE\n")
    out_dir = tmp_path / "nodes"
    code, out, err = _run(
        capsys, "run", "nodes", "--input", f"seed_nodes={bad}", "--output", str(out_dir)
    )
    assert code == EXIT_CONTRACT
    # Contract reports go to stdout, as `hydra validate` prints them.
    assert err == ""
    assert "dataset 'seed_nodes' failed contract SeedNodes" in out
    assert "column 'company_id' failed greater_than_or_equal_to(1) (1 failing row); e.g. -1" in out
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nodez"], "no dataset 'nodez'; known: "),
        (["run", "nodes", "--input", "seed_nodes"], "--input takes dataset=path"),
        (["validate", "Nope", "x.csv"], "no contract 'Nope'; known: seed_nodes (SeedNodes)"),
        (["validate", "seed_nodes", "/does/not/exist.csv"], "no such file or directory"),
        (["--registry", "no.such.module:reg", "list"], "cannot load registry 'no.such.module:reg'"),
        (
            ["--registry", "hydra_transforms.cli:main", "list"],
            "is a function, not a hydra_transforms.Registry",
        ),
    ],
)
def test_bad_input_is_a_clear_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == EXIT_USAGE
    assert err.startswith("hydra: error: ")
    assert message in err
    assert "Traceback" not in err


def test_the_console_script_is_installed() -> None:
    assert shutil.which("hydra") or (Path(__file__).parents[2] / ".venv/bin/hydra").exists()


@pytest.mark.duckdb
def test_validate_reports_missing_extra_and_unparsable_csv_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "seeds.csv"
    bad.write_text("company_id,website,country,notes\nx12,a.de,DE,hi\n")
    code, out, err = _run(capsys, "validate", "seed_nodes", str(bad))
    assert code == EXIT_CONTRACT, err
    assert "column 'company_name' failed column_in_dataframe: column is missing" in out
    assert "unexpected columns ['notes']" in out
    # The value that does not parse is named, not only counted as a missing value.
    assert (
        "column 'company_id' failed dtype('int64'): text that does not parse as int64 "
        "(1 failing row); e.g. 'x12'"
    ) in out
    assert "not_nullable" not in out
    assert "Traceback" not in err

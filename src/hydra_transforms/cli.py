"""`hydra`: list transforms and contracts, run a transform, validate a file against a contract.

Exit status: 0 valid (or done), 1 a contract failed (the report is on stdout), 2 the command
could not do its work — bad usage, an input that cannot be read, an engine error — with one
line on stderr naming what is wrong (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra_transforms.contracts import ContractViolation, validate
from hydra_transforms.engines import (
    ENGINES,
    SPARK_CONNECT_TOKEN_ENV,
    SPARK_REMOTE_ENV,
    CsvReadError,
    Engine,
    connect,
    local_spark_session,
)
from hydra_transforms.errors import EngineError, Interrupted, describe_error, interrupt_on_signals
from hydra_transforms.registry import Registry, Source, Transform, load_registry
from hydra_transforms.runner import (
    RunResult,
    read_dataset,
    read_text,
    run_pipeline,
    run_transform,
    typed_from_text,
)
from hydra_transforms.storage import DatasetBusy

DEFAULT_REGISTRY = "hydra_transforms.example:registry"
EXIT_OK, EXIT_CONTRACT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the command line: printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # argparse itself exits 2 on bad usage
    try:
        registry = load_registry(args.registry) if getattr(args, "needs_registry", True) else None
        # SIGTERM/SIGINT: the write in progress cancels its engine jobs and removes staging.
        with interrupt_on_signals():
            return args.command(registry, args)
    except ContractViolation as exc:
        # Contract reports are the commands' output, on stdout (as `validate` prints them);
        # stderr carries errors about the command itself.
        print(str(exc))
        return EXIT_CONTRACT
    except Interrupted as exc:
        print(f"hydra: {exc}; nothing was published from the interrupted write", file=sys.stderr)
        return 128 + exc.signum
    except Exception as exc:
        if args.debug:
            raise
        print(f"hydra: error: {_message(exc)}", file=sys.stderr)
        return EXIT_USAGE


# Errors whose message the project writes for people: printed as they are.
_OWN_ERRORS = (UsageError, ValueError, KeyError, FileNotFoundError, EngineError, DatasetBusy)


def _message(exc: Exception) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, _OWN_ERRORS) and not isinstance(exc, UnicodeError):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return describe_error(exc)


def _cmd_list(registry: Registry, args: argparse.Namespace) -> int:
    print(f"registry {registry.name}")
    print("sources:")
    for source in registry.sources:
        part = f", partitioned by {source.partition_column}" if source.partition_column else ""
        print(f"  {source.name} ({source.format}{part}) contract {source.contract.__name__}")
    print("transforms (in dependency order):")
    for transform in registry.transforms:
        part = (
            f", partitioned by {transform.partition_column}" if transform.partition_column else ""
        )
        reads = ", ".join(transform.inputs.values())
        print(f"  {transform.name} <- {reads}{part}; contract {transform.contract.__name__}")
        if args.verbose and transform.description:
            print("      " + transform.description.splitlines()[0])
    return EXIT_OK


def _cmd_contracts(registry: Registry, args: argparse.Namespace) -> int:
    datasets = [registry[args.dataset]] if args.dataset else list(registry)
    for dataset in datasets:
        schema = dataset.contract.to_schema()
        print(
            f"{dataset.name}: {dataset.contract.__name__}" + (" (strict)" if schema.strict else "")
        )
        for name, column in schema.columns.items():
            flags = [str(column.dtype), "nullable" if column.nullable else "not null"]
            flags += ["unique"] if column.unique else []
            flags += [str(check.error or check.name) for check in column.checks]
            print(f"  {name}: {', '.join(flags)}")
        for check in schema.checks or []:
            print(f"  table check: {check.error or check.name}")
        if schema.unique:
            print(f"  unique: {schema.unique}")
    return EXIT_OK


def _cmd_validate(registry: Registry, args: argparse.Namespace) -> int:
    dataset = _dataset_for_contract(registry, args.contract)
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"no such file or directory: {path}")
    engine = _engine(args)
    if args.format and args.format != getattr(dataset, "format", "parquet"):
        dataset = Source(
            name=dataset.name,
            format=args.format,
            contract=dataset.contract,
            partition_column=dataset.partition_column,
        )
    try:
        text = read_text(engine, dataset, path)
        table = (
            typed_from_text(text, dataset.contract)
            if text is not None
            else read_dataset(engine, dataset, path)
        )
        report = validate(table, dataset.contract, dataset=dataset.name, text=text)
    except CsvReadError:
        raise
    except Exception as exc:  # an engine cannot read it: say which file and why, in one line
        kind = getattr(dataset, "format", "parquet")
        raise UsageError(f"cannot read {path} as {kind}: {describe_error(exc)}") from exc
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return EXIT_OK if report.passed else EXIT_CONTRACT


def _cmd_run(registry: Registry, args: argparse.Namespace) -> int:
    engine = _engine(args)
    result = run_transform(
        registry,
        args.transform,
        engine=engine,
        inputs=_pairs(args.input, "--input"),
        output=args.output,
        partition=args.partition,
        validate_inputs=not args.no_validate,
        validate_output=not args.no_validate,
        preview_rows=args.preview,
    )
    _print_result(result)
    return EXIT_OK


def _cmd_pipeline(registry: Registry, args: argparse.Namespace) -> int:
    engine = _engine(args)
    results = run_pipeline(
        registry,
        engine=engine,
        sources=_pairs(args.source, "--source"),
        warehouse=args.warehouse,
        partition=args.partition,
        validate_contracts=not args.no_validate,
    )
    for result in results.values():
        _print_result(result)
    return EXIT_OK


def _print_result(result: RunResult) -> None:
    where = result.output or "(not written)"
    part = f" partition {result.partition}" if result.partition else ""
    print(
        f"{result.transform}{part} on {result.engine}: {result.rows:,} rows in "
        f"{result.duration_s:.2f}s -> {where}"
    )
    for row in result.preview:
        print(f"    {dict(row)}")


def _dataset_for_contract(registry: Registry, name: str) -> Source | Transform:
    for dataset in registry:
        if name in (dataset.name, dataset.contract.__name__):
            return dataset
    known = ", ".join(f"{d.name} ({d.contract.__name__})" for d in registry)
    raise UsageError(f"no contract {name!r}; known: {known}")


def _engine(args: argparse.Namespace) -> Engine:
    if args.engine == "pyspark":
        return connect("pyspark", spark=local_spark_session(app_name="hydra-cli"))
    if args.engine == "spark-connect":
        # The command line is where a user connects: the server and its token may come
        # from the environment, as pyspark's own SPARK_REMOTE does.
        remote = args.remote or os.environ.get(SPARK_REMOTE_ENV, "").strip()
        if not remote:
            raise UsageError(
                f"--engine spark-connect needs a server: --remote sc://host:port or "
                f"${SPARK_REMOTE_ENV}"
            )
        token = os.environ.get(SPARK_CONNECT_TOKEN_ENV, "").strip() or None
        return connect("spark-connect", remote=remote, token=token)
    return connect(args.engine)


def _pairs(values: Sequence[str], flag: str) -> dict[str, Any]:
    pairs = {}
    for value in values:
        name, sep, location = value.partition("=")
        if not sep or not name or not location:
            raise UsageError(f"{flag} takes dataset=path, got {value!r}")
        pairs[name] = location
    return pairs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hydra", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (exit 2)"
    )
    parser.add_argument(
        "--registry",
        default=DEFAULT_REGISTRY,
        help=f"module:attribute (default {DEFAULT_REGISTRY})",
    )
    commands = parser.add_subparsers(required=True, metavar="command")

    listing = commands.add_parser("list", help="list sources and transforms")
    listing.add_argument("-v", "--verbose", action="store_true")
    listing.set_defaults(command=_cmd_list)

    contracts = commands.add_parser("contracts", help="show the contract of datasets")
    contracts.add_argument("dataset", nargs="?")
    contracts.set_defaults(command=_cmd_contracts)

    check = commands.add_parser("validate", help="validate a file against a named contract")
    check.add_argument("contract", help="dataset or contract name, e.g. seed_nodes or SeedNodes")
    check.add_argument("path")
    check.add_argument("--format", choices=["csv", "parquet"], help="default: the dataset's own")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    _engine_option(check)
    check.set_defaults(command=_cmd_validate)

    run = commands.add_parser("run", help="run one transform")
    run.add_argument("transform")
    run.add_argument("--input", action="append", default=[], metavar="DATASET=PATH")
    run.add_argument("--output", help="output directory (default: build and check only)")
    run.add_argument("--partition", help="one value of the partition column, e.g. CC-MAIN-2024-10")
    run.add_argument("--preview", type=int, default=5, metavar="ROWS")
    run.add_argument("--no-validate", action="store_true", help="skip contracts")
    _engine_option(run)
    run.set_defaults(command=_cmd_run)

    pipeline = commands.add_parser("pipeline", help="run every transform into a warehouse")
    pipeline.add_argument("--source", action="append", default=[], metavar="DATASET=PATH")
    pipeline.add_argument("--warehouse", required=True)
    pipeline.add_argument("--partition")
    pipeline.add_argument("--no-validate", action="store_true")
    _engine_option(pipeline)
    pipeline.set_defaults(command=_cmd_pipeline)
    _plugin_commands(commands)
    return parser


def _plugin_commands(commands: Any) -> None:
    """Commands other installed packages add (entry point group ``hydra_transforms.commands``:
    ``name = "module:function"``, the function sets up the subcommand's parser and its
    ``command``); e.g. the orchestration's `upload-sample`, which reads the project config."""
    for entry in importlib.metadata.entry_points(group="hydra_transforms.commands"):
        module = entry.value.split(":")[0]
        try:
            setup = entry.load()
        except ImportError as exc:  # e.g. installed without the extra the command needs
            parser = commands.add_parser(entry.name, help=f"(unavailable: {exc})")
            parser.set_defaults(command=_unavailable(entry.name, exc), needs_registry=False)
            continue
        setup(commands.add_parser(entry.name, help=f"(from {module})"))


def _unavailable(name: str, exc: ImportError):  # type: ignore[no-untyped-def]
    def command(registry: Registry | None, args: argparse.Namespace) -> int:
        raise UsageError(
            f"`hydra {name}` needs a package that is not installed ({exc}); "
            'pip install "ascii-hydra[orchestration]"'
        )

    return command


def _engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=list(ENGINES), default="duckdb")
    parser.add_argument(
        "--remote",
        metavar="sc://host:port",
        help=f"the Spark Connect server of --engine spark-connect (default: ${SPARK_REMOTE_ENV}; "
        f"its token, if it needs one, from ${SPARK_CONNECT_TOKEN_ENV})",
    )


if __name__ == "__main__":
    sys.exit(main())

"""The project config's S3 modes pointed at the local S3 — what the tests of the cloud
platforms, ``make sandbox`` and the cloud benchmarks all start from (each adds its sections)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def s3_modes(*, endpoint_url: str, bucket: str, prefix: str, local_warehouse: Path) -> str:
    """``[partitions]``, ``[s3]`` on ``endpoint_url``, the sample modes (the local one as
    packaged: where `hydra upload-sample` copies from) and ``[pyspark] jars`` (the S3A jars)."""
    return f"""\
[partitions]
crawl_id = ["CC-MAIN-2024-10", "CC-MAIN-2024-33"]

[s3]
bucket = "{bucket}"
prefix = "{prefix}"
endpoint_url = "{endpoint_url}"
path_style = true

[modes.small_dev_sample_local]
warehouse = "{local_warehouse}"
[modes.small_dev_sample_local.sources]
seed_nodes = "{SAMPLE / "seed_nodes.csv"}"
crawl_records = "{SAMPLE / "crawl_records"}"

[modes.small_dev_sample_s3]
warehouse = "{{s3}}/small_dev_sample_s3/warehouse"
[modes.small_dev_sample_s3.sources]
seed_nodes = "{{s3}}/sample/seed_nodes.csv"
crawl_records = "{{s3}}/sample/crawl_records"

[pyspark]
jars = "{ROOT / ".cache" / "spark-jars"}"
"""

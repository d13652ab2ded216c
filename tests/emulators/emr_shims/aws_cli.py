"""`aws s3 cp` for a local EMR node (tests/emulators/emr.py): enough of the AWS CLI for a
bootstrap action that downloads a wheel and a constraints file.

Reaches the local S3 through the environment the emulator sets (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION). Supported:

    aws s3 cp SRC DST [--recursive] [--quiet] [--only-show-errors] [--no-progress]

with SRC and DST each an s3:// URL, a local path, or ``-`` (stdin / stdout). Anything else
exits 252 (the AWS CLI's usage error) with a message saying what is supported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

USAGE = "the local EMR's aws supports only: aws s3 cp SRC DST [--recursive] [--quiet]"
IGNORED_FLAGS = {"--quiet", "--only-show-errors", "--no-progress"}


def _client():
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def _split(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.lstrip("/")


def _is_s3(location: str) -> bool:
    return location.startswith(("s3://", "s3a://", "s3n://"))


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def _copy_one(client, src: str, dst: str, quiet: bool) -> None:
    if _is_s3(src) and _is_s3(dst):
        (sb, sk), (db, dk) = _split(src), _split(dst)
        if not dk or dk.endswith("/"):
            dk += sk.rsplit("/", 1)[-1]
        client.copy_object(Bucket=db, Key=dk, CopySource={"Bucket": sb, "Key": sk})
        _say(quiet, f"copy: {src} to s3://{db}/{dk}")
    elif _is_s3(src):
        bucket, key = _split(src)
        if dst == "-":
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
            return
        target = Path(dst)
        if dst.endswith("/") or target.is_dir():
            target = target / key.rsplit("/", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
        _say(quiet, f"download: {src} to {target}")
    elif _is_s3(dst):
        bucket, key = _split(dst)
        if src == "-":
            client.put_object(Bucket=bucket, Key=key, Body=sys.stdin.buffer.read())
            return
        if not key or key.endswith("/"):
            key += Path(src).name
        client.upload_file(src, bucket, key)
        _say(quiet, f"upload: {src} to s3://{bucket}/{key}")
    else:
        raise SystemExit(f"aws s3 cp: one of SRC and DST must be an s3:// URL\n{USAGE}")


def _copy_recursive(client, src: str, dst: str, quiet: bool) -> None:
    if _is_s3(src) and not _is_s3(dst):
        bucket, prefix = _split(src)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                if relative and not relative.endswith("/"):
                    _copy_one(
                        client, f"s3://{bucket}/{item['Key']}", str(Path(dst) / relative), quiet
                    )
    elif _is_s3(dst) and not _is_s3(src):
        bucket, prefix = _split(dst)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        root = Path(src)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            _copy_one(client, str(path), f"s3://{bucket}/{prefix}{path.relative_to(root)}", quiet)
    else:
        raise SystemExit(
            f"aws s3 cp --recursive: copies between s3:// and a local directory\n{USAGE}"
        )


def main(argv: list[str]) -> int:
    if argv[:2] != ["s3", "cp"]:
        print(USAGE, file=sys.stderr)
        return 252
    recursive = "--recursive" in argv
    quiet = bool({"--quiet", "--only-show-errors"} & set(argv))
    operands = [a for a in argv[2:] if a != "--recursive" and a not in IGNORED_FLAGS]
    unknown = [a for a in operands if a.startswith("--")]
    if unknown or len(operands) != 2:
        print(f"unsupported arguments {unknown or operands}\n{USAGE}", file=sys.stderr)
        return 252
    if "AWS_ENDPOINT_URL" not in os.environ:
        print("AWS_ENDPOINT_URL is not set: not on a local EMR node?", file=sys.stderr)
        return 255
    from botocore.exceptions import BotoCoreError, ClientError

    src, dst = operands
    client = _client()
    try:
        if recursive:
            _copy_recursive(client, src, dst, quiet)
        else:
            _copy_one(client, src, dst, quiet)
    except (BotoCoreError, ClientError, OSError) as error:
        print(f"fatal error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A local S3: moto's server on 127.0.0.1, on a free port."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hydra_transforms.stores import S3Options, s3_client

# Any key works against the emulator; these name what they are.
ACCESS_KEY_ID, SECRET_ACCESS_KEY = "local-s3-key", "local-s3-secret"


@dataclass
class LocalS3:
    """moto's S3 (and, later, EMR and CloudWatch Logs) server in this process."""

    server: Any = field(init=False, repr=False)
    endpoint_url: str = field(init=False, default="")

    def start(self) -> LocalS3:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self.server.stop()

    def options(self, *, credentials: bool = True) -> S3Options:
        """How the project reaches this store (with credentials, unless asked without)."""
        options = S3Options(endpoint_url=self.endpoint_url, path_style=True)
        return (
            options.with_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY) if credentials else options
        )

    def client(self) -> Any:
        return s3_client(self.options())

    def bucket(self, name: str) -> str:
        """Create bucket ``name`` (if needed); returns ``s3://name``."""
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if name not in existing:
            client.create_bucket(Bucket=name)
        return f"s3://{name}"

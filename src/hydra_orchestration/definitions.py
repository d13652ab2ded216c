"""The Dagster Definitions of the project: what `make start` loads."""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions()

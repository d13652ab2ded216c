"""What runs on the step's side: the entrypoint, the step, its lifetime (no dagster import)."""

"""Dagster assets, launchers and the remote entrypoint for hydra_transforms pipelines."""

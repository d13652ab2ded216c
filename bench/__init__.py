"""Benchmarks of ascii-hydra: ``python -m bench --quick`` (make bench) or ``--full``."""

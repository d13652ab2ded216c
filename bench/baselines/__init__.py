"""Hand-written versions of the example pipeline, the baselines of the abstraction cost."""

"""enr: the election-night results publisher (intake, results store, pipeline steps and the `enr` CLI)."""

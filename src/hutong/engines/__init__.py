"""Engines that run a run's partitions elsewhere than in this process (Spark)."""

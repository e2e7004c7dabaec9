"""Pipelines: each command's work as one library function read top to bottom (config → data →
model → trainer → evaluation → artifacts), which the CLI, the benchmarks and the tests call."""

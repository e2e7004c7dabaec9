"""Baselines evaluated in the same harness as the generative decoder."""

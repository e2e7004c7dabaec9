"""Benchmarks: machine-readable reports (JSON) plus short Markdown tables under reports/."""

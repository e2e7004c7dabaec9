"""Benchmarks that write machine-readable reports (JSON) and short Markdown tables under reports/."""

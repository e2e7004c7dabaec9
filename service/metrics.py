"""Prometheus metrics of the gateway (conventional names: `_total` counters, `_seconds`
histograms). Triton exports its own on its metrics port."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5)

HTTP_REQUESTS = Counter(
    "genrec_http_requests_total", "HTTP requests by route, method and status",
    ["route", "method", "status"],
)  # fmt: skip
HTTP_LATENCY = Histogram(
    "genrec_http_request_duration_seconds", "HTTP request latency by route and method",
    ["route", "method"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
TRITON_LATENCY = Histogram(
    "genrec_triton_request_duration_seconds",
    "Triton inference latency seen by a page: waiting for its batch's call, then the call",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
TRITON_CALL_PAGES = Histogram(
    "genrec_triton_call_pages", "Pages per Triton request (a worker batches the pages waiting)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)  # fmt: skip
REDIS_LATENCY = Histogram(
    "genrec_redis_duration_seconds", "Redis round-trip latency by operation", ["op"],
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
PROMPT_TOKENS = Histogram(
    "genrec_prompt_tokens", "Decoder prompt length after the token merger",
    buckets=(1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100),
)  # fmt: skip
FALLBACKS = Counter(
    "genrec_fallbacks_total", "Pages served from popularity instead of the decoder", ["reason"]
)
for _reason in ("cold_user", "decoder_unavailable", "redis_unavailable"):  # 0 from the start
    FALLBACKS.labels(_reason)
INVALID_IDS = Counter(
    "genrec_invalid_ids_total", "Item indices from the decoder outside the catalogue (must stay 0)"
)
FILTERED = Counter(
    "genrec_filtered_items_total",
    "Decoded items dropped before a page: already shown in the chain, or repeated",
    ["reason"],
)
for _reason in ("shown", "duplicate"):
    FILTERED.labels(_reason)
EVENTS = Counter("genrec_events_total", "Events received by type and outcome", ["type", "outcome"])
DECODER_STAGE = Histogram(
    "genrec_decoder_stage_seconds",
    "Time inside the Triton model per execution: prompt (history → merged embeddings) and "
    "decode (constrained beam search), as the model reports it",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
DECODER_BATCH = Histogram(
    "genrec_decoder_batch_size", "Pages per model execution (Triton's dynamic batching)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)  # fmt: skip
BREAKER_OPEN = Gauge(
    "genrec_triton_circuit_open", "1 while the gateway skips Triton after repeated failures",
    multiprocess_mode="max",
)  # fmt: skip
LIMITS_LOCAL = Gauge(
    "genrec_rate_limit_local", "1 while rate limits are kept per process: their Redis fails",
    multiprocess_mode="max",
)  # fmt: skip


def registry() -> CollectorRegistry:
    """What the metrics port serves: this process's metrics, or every worker's when uvicorn
    runs several (prometheus-client's multiprocess mode, on when PROMETHEUS_MULTIPROC_DIR is
    set; the workers write their figures to files there, and this reads them all)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged

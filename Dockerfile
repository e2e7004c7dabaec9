# The gateway image: FastAPI + uvicorn, talking to Redis and Triton. No torch, no model, and of
# the genrec library only genrec/contract.py: the names it shares with the model (make lint
# holds the gateway to importing nothing else of it).
# Build: docker build -t genrec-gateway .     (the Triton image is Dockerfile.triton)
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /build
COPY service/requirements.txt .
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt

FROM python:3.11.11-slim-bookworm
# Several uvicorn workers share their Prometheus metrics through files in this folder.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GENREC_MODEL_DIR=/models/genrec \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 genrec \
    && mkdir -p /tmp/metrics && chown 10001 /tmp/metrics
WORKDIR /app
COPY genrec/__init__.py genrec/contract.py ./genrec/
COPY service/ ./service/
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# uvicorn with the gateway's connection limits; X-Forwarded-For believed only from
# GENREC_TRUSTED_PROXIES (service/server.py).
CMD ["python", "-m", "service.server", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

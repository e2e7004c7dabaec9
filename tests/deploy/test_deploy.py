"""What CI can check of the deployment without a Docker engine or a cluster: the Dockerfiles
lint clean and copy only what exists, the gateway's entry point imports without torch, and the
Helm chart renders, lints and validates strictly with default and production-like values, while
values that break its schema are refused."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "genrec"
KUBE = "1.33.0"
DOCKERFILES = ("Dockerfile", "Dockerfile.triton")


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def test_dockerfiles_lint_clean():
    run = subprocess.run([_bin("hadolint"), *DOCKERFILES], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_copy_source_exists(dockerfile):
    lines = (REPO / dockerfile).read_text().splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    sources = [s for args in copies if not args[0].startswith("--from") for s in args]
    assert sources and all((REPO / s).exists() for s in sources), sources


def test_gateway_entrypoint_imports_without_torch():
    cmd = re.search(r'CMD \["python", "-m", "([\w.]+)"', (REPO / "Dockerfile").read_text())
    (module,) = cmd.groups()  # the server, which serves service.main:app
    code = (
        f"import sys, {module}, service.main as m; assert m.app; assert 'torch' not in sys.modules"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_gateway_image_holds_the_contract_it_imports(tmp_path):
    """The gateway's final image stage copies `service/` and, of the library, only
    genrec.contract: laid out as those COPY lines lay it out, the entry point imports (with
    the venv's packages, but not this checkout's genrec) and finds the contract there."""
    lines = (REPO / "Dockerfile").read_text().splitlines()
    final = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    for line in lines[final:]:
        if line.startswith("COPY ") and "--from" not in line:
            *sources, dest = line.split()[1:]
            target = tmp_path / dest
            for source in sources:
                if (REPO / source).is_dir():
                    ignore = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(REPO / source, target, ignore=ignore, dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / source, target)
    code = (
        "import sys, service.main, genrec.contract as c\n"
        f"assert c.__file__.startswith({str(tmp_path)!r}), c.__file__\n"
        "assert 'torch' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "genrec").iterdir()) == ["__init__.py", "contract.py"]


def _values(name: str) -> dict | None:
    return (
        None
        if name == "default"
        else yaml.safe_load((REPO / "helm/ci/production-values.yaml").read_text())
    )


@pytest.mark.parametrize("values", ["default", "production"])
def test_chart_renders_lints_and_validates_strictly(values, tmp_path):
    from helm_python.chart import Chart, lint

    result = lint(CHART, values=_values(values), strict=True, kube_version=KUBE)
    assert result["errors"] == [], result
    rendered = Chart.load(CHART).render(_values(values), name="genrec", namespace="rec")
    docs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "ConfigMap"} <= kinds  # fmt: skip
    builtin = [d for d in docs if d["kind"] != "ServiceMonitor"]  # a CRD: no built-in schema
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin))
    run = subprocess.run(
        [_bin("kubernetes-validate"), "--strict", "-k", KUBE, str(manifest)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    triton = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("triton")
    )
    limits = triton["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == (1 if values == "default" else 2)


@pytest.mark.parametrize(
    "bad",
    [
        {"gateway": {"workers": 0}},
        {"triton": {"gpus": -1}},
        {"redis": {"appendfsync": "no"}},
        {"modelRepository": {"source": "s3"}},
        {"gateway": {"settings": {"tritonTimeoutS": "fast"}}},
        {"gateway": {"clients": {"shop": {"sha256": "the-key-itself", "scopes": ["read"]}}}},
        {"gateway": {"clients": {"shop": {"sha256": "0" * 64, "scopes": ["admin"]}}}},
        {"unknownSection": {}},
    ],
)
def test_values_that_break_the_schema_fail(bad):
    from helm_python.chart import lint

    assert lint(CHART, values=bad, strict=True, kube_version=KUBE)["errors"]


def test_cpu_only_triton_runs_the_cpu_configuration():
    from helm_python.chart import Chart

    rendered = Chart.load(CHART).render({"triton": {"gpus": 0}}, name="g", namespace="rec")
    triton = next(t for n, t in rendered.items() if n.endswith("triton.yaml"))
    assert "--model-config-name=cpu" in triton and "nvidia.com/gpu" not in triton


def test_one_triton_per_gpu_is_reached_through_every_pod_address():
    """`triton.replicas: N, gpus: 1` runs one Triton per GPU; the gateway's target is the
    headless Service, whose DNS name lists every pod, so its channel balances over all."""
    from helm_python.chart import Chart

    values = {"triton": {"replicas": 2, "gpus": 1}}
    rendered = Chart.load(CHART).render(values, name="g", namespace="rec")
    docs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    triton = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "g-genrec-triton"
    )
    assert triton["spec"]["replicas"] == 2
    pods = next(
        d
        for d in docs
        if d["kind"] == "Service" and d["metadata"]["name"] == "g-genrec-triton-pods"
    )
    assert pods["spec"]["clusterIP"] == "None"
    assert pods["spec"]["selector"] == triton["spec"]["selector"]["matchLabels"]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "GENREC_TRITON_URL" in d["data"])
    assert config["data"]["GENREC_TRITON_URL"] == "g-genrec-triton-pods:8000"


def _docs(values: dict) -> list[dict]:
    from helm_python.chart import Chart

    rendered = Chart.load(CHART).render(values, name="g", namespace="rec")
    return [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]


def test_reads_need_a_client_key_and_clients_render_as_the_gateway_reads_them(monkeypatch):
    from service.clients import Clients, Scope
    from service.settings import Settings

    shop = {"sha256": "ab" * 32, "scopes": ["read"]}
    config = next(
        d for d in _docs({"gateway": {"clients": {"shop": shop}}})
        if d["kind"] == "ConfigMap" and "GENREC_CLIENTS" in d["data"]
    )  # fmt: skip
    for name in ("GENREC_CLIENTS", "GENREC_ANONYMOUS_READS"):
        monkeypatch.setenv(name, config["data"][name])
    clients = Clients(Settings(_env_file=None))
    assert clients.needs_key(Scope.read)
    assert clients.by_digest["ab" * 32].name == "shop"


def test_replicated_redis_acknowledges_after_a_replica_has_it():
    """`redis.replicas: 3, waitReplicas: 1` (the production values): pod 0 is the primary the
    gateway writes to, the others replicate it by pod name, and the gateway acknowledges an
    event only once one replica holds it; a wait the replicas cannot meet is refused."""
    from helm_python.chart import Chart
    from helm_python.errors import HelmRenderError

    docs = _docs(_values("production"))
    redis = next(d for d in docs if d["kind"] == "StatefulSet")
    assert redis["spec"]["replicas"] == 3 and redis["spec"]["serviceName"] == "g-genrec-redis-pods"
    start = redis["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "--replicaof g-genrec-redis-0.g-genrec-redis-pods 6379" in start
    assert "--appendfsync always" in start
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    primary = services["g-genrec-redis"]
    assert primary["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == "g-genrec-redis-0"
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "GENREC_REDIS_URL" in d["data"])
    assert config["data"]["GENREC_REDIS_WAIT_REPLICAS"] == "1"
    assert config["data"]["GENREC_REDIS_URL"] == "redis://g-genrec-redis:6379/0"
    with pytest.raises(HelmRenderError, match=r"must be below redis\.replicas"):
        Chart.load(CHART).render({"redis": {"waitReplicas": 1}}, name="g", namespace="rec")


def test_an_external_redis_replaces_the_chart_s_own():
    docs = _docs({"redis": {"external": {"url": "redis://redis-ha:6379/0"}, "waitReplicas": 1}})
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "GENREC_REDIS_URL" in d["data"])
    assert config["data"]["GENREC_REDIS_URL"] == "redis://redis-ha:6379/0"
    secret = next(d for d in docs if d["kind"] == "Secret")["data"]
    assert "GENREC_REDIS_PASSWORD" not in secret  # none given: its URL's, or none


def test_chains_and_limits_live_in_an_evicting_cache_apart_from_the_event_store():
    """Traffic anyone can send fills the cache Redis, which evicts; the event store keeps
    `noeviction` (Redis's default: the chart never sets a policy on it) and its own password."""
    docs = _docs({})
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "GENREC_REDIS_URL" in d["data"])
    assert config["data"]["GENREC_CACHE_REDIS_URL"] == "redis://g-genrec-cache-redis:6379/0"
    workloads = {
        d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
    }
    cache = workloads["g-genrec-cache-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert (
        "--maxmemory 1gb" in cache["args"][0]
        and "--maxmemory-policy volatile-ttl" in cache["args"][0]
    )
    assert "--appendonly no" in cache["args"][0]
    store = workloads["g-genrec-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert "maxmemory" not in store["args"][0]
    passwords = {e["valueFrom"]["secretKeyRef"]["key"] for e in cache["env"]}
    assert passwords == {"GENREC_CACHE_REDIS_PASSWORD"}
    secret = next(d for d in docs if d["kind"] == "Secret")["data"]
    assert {"GENREC_REDIS_PASSWORD", "GENREC_CACHE_REDIS_PASSWORD"} <= set(secret)


@pytest.mark.parametrize("values", ["default", "production"])
def test_every_pod_meets_the_restricted_pod_security_standard(values):
    """Kubernetes' *restricted* profile, plus read-only root filesystems: non-root, seccomp
    RuntimeDefault, no privilege escalation, every capability dropped, for every container
    (the model-copying init container too)."""
    docs = _docs(_values(values) or {})
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 4  # gateway, Triton, the event store and the cache
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["capabilities"]["drop"] == ["ALL"], container["name"]


def test_network_policies_let_only_the_gateway_reach_redis_and_triton():
    docs = _docs({})
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    assert set(policies) == {
        "g-genrec-gateway", "g-genrec-triton", "g-genrec-redis", "g-genrec-cache-redis"
    }  # fmt: skip

    def sources(spec: dict) -> list[str]:
        return [
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in spec["ingress"] for peer in rule.get("from", [])
        ]  # fmt: skip

    assert sources(policies["g-genrec-triton"]) == ["gateway"]  # metrics: no one by default
    assert sources(policies["g-genrec-redis"]) == ["gateway", "redis"]
    assert sources(policies["g-genrec-cache-redis"]) == ["gateway"]
    assert policies["g-genrec-cache-redis"]["egress"] == []
    assert policies["g-genrec-gateway"]["ingress"] == [{"ports": [{"port": "http"}]}]
    for spec in policies.values():
        assert spec["policyTypes"] == ["Ingress", "Egress"]


def test_metrics_are_apart_from_the_api_and_reach_only_the_monitoring_peers():
    prometheus = [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
    docs = _docs({"networkPolicy": {"metricsFrom": prometheus}})
    services = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Service"}
    assert [p["name"] for p in services["g-genrec-gateway"]["ports"]] == ["http"]
    assert services["g-genrec-gateway-metrics"]["type"] == "ClusterIP"
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    for name in ("g-genrec-gateway", "g-genrec-triton"):
        metrics = [r for r in policies[name]["ingress"] if r["ports"] == [{"port": "metrics"}]]
        assert metrics == [{"from": prometheus, "ports": [{"port": "metrics"}]}], name


def test_secrets_are_generated_never_shipped():
    """No value of the chart is a secret: an install generates them (an upgrade keeps them);
    the old shipped defaults and short values are refused; Redis requires the password."""
    import base64

    from helm_python.chart import lint

    docs = _docs({})
    secret = next(d for d in docs if d["kind"] == "Secret")["data"]
    values = {k: base64.b64decode(v).decode() for k, v in secret.items()}
    assert set(values) == {
        "GENREC_TOKEN_SECRET", "GENREC_API_KEY", "GENREC_REDIS_PASSWORD",
        "GENREC_CACHE_REDIS_PASSWORD",
    }  # fmt: skip
    assert all(len(v) == 40 for v in values.values()) and len(set(values.values())) == 4
    again = next(d for d in _docs({}) if d["kind"] == "Secret")["data"]["GENREC_API_KEY"]
    assert base64.b64decode(again).decode() != values["GENREC_API_KEY"]  # per install
    for bad in ({"tokenSecret": "change-me"}, {"apiKey": "change-me-too"}, {"apiKey": "short"}):
        assert lint(CHART, values={"secrets": bad}, strict=True, kube_version=KUBE)["errors"]
    for redis in (d for d in docs if "redis" in d["metadata"]["name"] and "spec" in d
                  and "template" in d["spec"]):  # fmt: skip
        container = redis["spec"]["template"]["spec"]["containers"][0]
        assert '--requirepass "$REDIS_PASSWORD"' in container["args"][0]
        assert {e["name"] for e in container["env"]} == {"REDIS_PASSWORD", "REDISCLI_AUTH"}

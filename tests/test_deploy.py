"""deploy/: the Kubernetes base, as `kubectl kustomize` renders it, and the Grafana dashboard.

Everything they name must exist in ffgate: the image (the Dockerfile's, at the package's version), the
commands and options (the `ffgate` CLI's), the probe paths (the gateway's routes), the ports, the
`FFGATE_*` variables (`Settings`' fields), the metrics (deploy/README.md's list). The objects are checked
against the Kubernetes schemas too, strictly (an unknown or misspelt field fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import promql_parser
import pytest
import typer.main
import yaml
from pydantic import SecretStr

from ffgate.cli.main import app as cli
from ffgate.config import DEFAULT_SECRETS_DIR, Settings
from service.app import create_app
from tests.redis_db import make_settings
from worker import metrics_server as worker_metrics_server

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "kubernetes"
DASHBOARD = ROOT / "deploy" / "grafana" / "ffgate.json"
KUBERNETES_VERSION = "1.30.0"
# Named in the manifests, built by another part of issue 12: the worker's metrics and health port. Once a
# name exists in Settings, this test fails until it is taken off this list (and so checked for real).
PENDING_SETTINGS: set[str] = set()
# What the worker serves on its metrics port.
WORKER_ENDPOINTS = set(worker_metrics_server.PATHS)
SCALED_OBJECT_FIELDS = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount",
    "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip


# The standard AWS variables the S3 output store is configured by (boto3 reads them; AWS_REGION is the
# `aws_region` setting's own name): the non-secret ones may be in the ConfigMap, the keys only in a Secret.
AWS_CONFIG = {"AWS_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}
AWS_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def setting_names() -> set[str]:
    return {"FFGATE_" + name.upper() for name in Settings.model_fields}


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_text().splitlines())
    return {key.strip(): value for key, sep, value in pairs if sep and not key.lstrip().startswith("#")}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "these checks render the base with `kubectl kustomize` (Debian: kubernetes-client)"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(BASE)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    return found


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for deployment in of_kind(objects, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            yield deployment, container


def config(objects: list[dict[str, Any]]) -> dict[str, str]:
    [configmap] = of_kind(objects, "ConfigMap")
    data: dict[str, str] = configmap["data"]
    return data


def readme_metrics() -> set[str]:
    text = (ROOT / "deploy" / "README.md").read_text()
    return set(re.findall(r"^\| `(ffgate_[a-z_]+)` \|", text, re.MULTILINE))


def metrics_in(expr: str) -> set[str]:
    """The metric families a PromQL query reads (histogram series named by their family)."""
    for variable, value in (("$__rate_interval", "5m"), ("$client", ".*")):
        expr = expr.replace(variable, value)
    names: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.append(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


# --- the objects -----------------------------------------------------------------------------------------


def test_every_file_of_the_base_is_in_the_kustomization_and_renders() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"]) | {"kustomization.yaml"}
    assert {p.name for p in BASE.glob("*.yaml")} == listed
    assert [g["envs"] for g in kustomization["configMapGenerator"]] == [["ffgate.env"]]


def test_every_object_is_valid_kubernetes(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == sorted(
        ["ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget",
         "PodDisruptionBudget", "ScaledObject", "Service", "Service", "ServiceAccount"]
    )  # fmt: skip
    for obj in objects:
        if obj["kind"] == "ScaledObject":  # KEDA's custom resource: no schema here, see below
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ffgate"


def test_the_image_and_its_arguments_are_ffgates(objects: list[dict[str, Any]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    commands = typer.main.get_command(cli).commands  # type: ignore[attr-defined]
    seen = set()
    for _, container in containers(objects):
        assert container["image"] == f"ffgate:{version}", container["image"]
        assert "command" not in container  # the image's entry point, `ffgate`
        name, *rest = container["args"]
        assert name in commands, name
        seen.add(name)
        options = {opt for param in commands[name].params for opt in param.opts}
        given = [arg for arg in rest if arg.startswith("--")]
        assert set(given) <= options, (name, given, options)
    assert seen == {"serve", "worker"}


def test_ports_and_probes_exist(objects: list[dict[str, Any]]) -> None:
    gateway_paths = set(create_app(make_settings()).openapi()["paths"])  # what the gateway serves
    settings = config(objects)
    for deployment, container in containers(objects):
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        if container["args"][0] == "serve":
            args = container["args"]
            assert ports == {"http": int(args[args.index("--port") + 1])}
            served = gateway_paths
        else:
            assert ports == {"metrics": int(settings["FFGATE_WORKER_METRICS_PORT"])}
            served = WORKER_ENDPOINTS
        assert int(annotations["prometheus.io/port"]) in ports.values()
        assert annotations["prometheus.io/path"] in served
        probes = {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
        for kind, probe in probes.items():
            assert probe["httpGet"]["port"] in ports, (kind, probe)
            assert probe["httpGet"]["path"] in served, (kind, probe)
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_services_budgets_and_autoscalers_reach_the_pods(objects: list[dict[str, Any]]) -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}

    def pods_of(selector: dict[str, str]) -> list[str]:
        return [
            name
            for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]

    for service in of_kind(objects, "Service"):
        [target] = pods_of(service["spec"]["selector"])
        ports = {
            p["name"]
            for c in deployments[target]["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    budgets = [
        pods_of(pdb["spec"]["selector"]["matchLabels"]) for pdb in of_kind(objects, "PodDisruptionBudget")
    ]
    assert sorted(budgets) == [["ffgate-gateway"], ["ffgate-worker"]]

    [hpa] = of_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ffgate-gateway"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    for _, container in containers(objects):
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()  # what utilization is of
        assert "memory" in container["resources"]["limits"]

    [scaled] = of_kind(objects, "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"].keys() <= SCALED_OBJECT_FIELDS
    assert scaled["spec"]["scaleTargetRef"]["name"] == "ffgate-worker" in deployments
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert metrics_in(trigger["metadata"]["query"]) == {"ffgate_queue_depth"}
    assert float(trigger["metadata"]["threshold"]) > 0


def test_pods_run_unprivileged_as_the_images_user(objects: list[dict[str, Any]]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = int(re.search(r"useradd --uid (\d+)", dockerfile).group(1))  # type: ignore[union-attr]
    for deployment, container in containers(objects):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == uid
        assert pod["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]


# --- the configuration -------------------------------------------------------------------------------------


def test_pending_settings_are_still_pending() -> None:
    landed = PENDING_SETTINGS & setting_names()
    assert not landed, f"{landed} now exist in Settings: take them off PENDING_SETTINGS in {__file__}"


def test_config_names_settings_with_valid_values(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = config(objects)
    known = setting_names() | PENDING_SETTINGS | AWS_CONFIG
    assert set(data) <= known, set(data) - known
    for _, container in containers(objects):
        assert container["envFrom"] == [
            {"configMapRef": {"name": of_kind(objects, "ConfigMap")[0]["metadata"]["name"]}}
        ]
        names = {env["name"] for env in container.get("env", [])}
        assert names <= setting_names() | AWS_KEYS, names
    for name in [n for n in os.environ if n.startswith("FFGATE_")]:
        monkeypatch.delenv(name)
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FFGATE_SECRETS_DIR", str(tmp_path))  # the secrets are not what this checks
    settings = Settings()  # every value valid as ffgate reads it
    assert settings.log_format == "json"
    assert settings.redis_sentinel is not None


def test_secrets_are_files_in_the_secrets_directory_and_never_in_the_config(
    objects: list[dict[str, Any]],
) -> None:
    secret_keys = set(env_file(BASE / "secrets.example.env"))
    assert secret_keys <= setting_names()
    secret_fields = {
        "FFGATE_" + name.upper()
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
        and "emulator" not in name
    }
    # Every secret ffgate has, and the Redis URL (it carries the password).
    assert secret_keys == secret_fields | {"FFGATE_REDIS_URL"}
    assert not secret_keys & set(config(objects))
    for deployment, container in containers(objects):
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        [mount] = [m for m in container["volumeMounts"] if "secret" in volumes[m["name"]]]
        assert mount["mountPath"] == DEFAULT_SECRETS_DIR and mount["readOnly"] is True
        assert volumes[mount["name"]]["secret"]["secretName"] == "ffgate-secrets"


def test_every_gateway_and_worker_shares_one_s3_output_store(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Gateways and workers scale out: a worker writes the outputs and any gateway serves them, so the
    store is one S3 bucket for all, never a pod's own directory (the root file system is read-only, too)."""
    data = config(objects)
    for name in [n for n in os.environ if n.startswith(("FFGATE_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FFGATE_SECRETS_DIR", str(tmp_path))
    settings = Settings()
    assert settings.storage_url.startswith("s3://"), settings.storage_url
    assert settings.aws_region == data["AWS_REGION"]
    seen = set()
    for _, container in containers(objects):
        seen.add(container["args"][0])
        keys = {env["name"]: env["valueFrom"]["secretKeyRef"] for env in container["env"]}
        assert set(keys) == AWS_KEYS, keys
        for name, ref in keys.items():  # straight from the Secret, never a value in the pod spec
            assert ref == {"name": "ffgate-s3", "key": name, "optional": True}
    assert seen == {"serve", "worker"}
    assert set(env_file(BASE / "s3-secrets.example.env")) == AWS_KEYS
    assert not AWS_KEYS & set(data)


# --- the dashboard -----------------------------------------------------------------------------------------


def test_the_dashboard_shows_every_listed_metric_and_no_other() -> None:
    listed = readme_metrics()
    assert len(listed) == 18, listed
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            found = metrics_in(target["expr"])  # parses, or fails here
            assert found, target["expr"]
            used |= found
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            [metric] = re.findall(r"label_values\((\w+),", variable["definition"])
            used.add(metric)
    assert used == listed, (used - listed, listed - used)
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "client"}

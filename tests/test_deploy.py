"""Deployment files: Prometheus rules and config, Grafana, Docker, docker-compose, Kubernetes.

Fast and offline: no Kafka, no Docker, no cluster. Schemas come from installed packages
(check-jsonschema's vendored compose-spec schema, kubernetes-validate's Kubernetes schemas);
promtool comes from Debian's `prometheus` package, which `make test` installs.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROM_DIR = DEPLOY / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
RULES_FILE = PROM_DIR / "rules" / "leadscore.rules.yml"
RULES_TEST = PROM_DIR / "tests" / "leadscore.rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "leadscore.json"
GRAFANA_PROVISIONING = DEPLOY / "grafana" / "provisioning"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S = DEPLOY / "k8s"

JOB = "leadscore"
WEB_PORT = 6066

# ------------------------------------------------------------------ the metric contract

# Metrics the worker exposes, by family name (as declared) and type.
BUSINESS_METRICS = {
    "leadscore_events": "counter",
    "leadscore_dead_letters": "counter",
    "leadscore_machine_engagement": "counter",
    "leadscore_bot_flags": "counter",
    "leadscore_score_updates": "counter",
    "leadscore_alerts": "counter",
    "leadscore_webhook_deliveries": "counter",
    "leadscore_event_to_score_seconds": "histogram",
    "leadscore_processing_seconds": "histogram",
    "leadscore_leads_in_state": "gauge",
    "leadscore_ready": "gauge",
    "leadscore_model_info": "gauge",
}
FAUST_PREFIX = "leadscore_faust"
# Series Prometheus itself adds to every scrape.
SYNTHETIC_METRICS = {"up"}

# Labels that would identify a person: never on a metric, a rule or a legend.
FORBIDDEN_LABELS = {"lead_id", "email", "event_id", "first_name", "last_name", "name", "company"}


def _exposed(name: str, kind: str) -> set[str]:
    """Series names a metric family shows on /metrics (prometheus_client conventions)."""
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return {name}


@cache
def allowed_metrics() -> frozenset[str]:
    """Every series name the worker exposes, Faust's sensor included, plus `up`."""
    from faust.sensors.prometheus import FaustMetrics
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    FaustMetrics.create(registry, FAUST_PREFIX)
    names = set(SYNTHETIC_METRICS)
    for family in registry.collect():
        names |= _exposed(family.name, family.type)
    for name, kind in BUSINESS_METRICS.items():
        names |= _exposed(name, kind)
    return frozenset(names)


PROMQL_KEYWORDS = {
    # aggregations (followed by `by (...)` rather than by a parenthesis)
    "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "limitk", "limit_ratio",
    # operators and modifiers
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "atan2", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana variables allowed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery windows
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r" \1 ", text
    )  # label lists
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function call or an aggregation with its arguments
        if word.lower() in PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def label_names(expr: str) -> set[str]:
    """Label names used in matchers, `by`/`without`/`on` lists of a PromQL expression."""
    names = set()
    for block in re.findall(r"\{([^}]*)\}", expr):
        names |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    for block in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr
    ):
        names |= {part.strip() for part in block.split(",") if part.strip()}
    return names


def check_expr(expr: str, where: str) -> None:
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    unknown = names - allowed_metrics()
    assert not unknown, f"{where}: unknown metric(s) {sorted(unknown)} in {expr!r}"
    personal = label_names(expr) & FORBIDDEN_LABELS
    assert not personal, f"{where}: personal label(s) {sorted(personal)} in {expr!r}"


def test_metric_name_parser() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, job) (rate(leadscore_processing_seconds_bucket"
        '{job="leadscore", instance=~"$instance"}[$__rate_interval]))) > 1e3 '
        "unless on (job) 60 * sum(leadscore_ready offset 5m)"
    )
    assert metric_names(expr) == {"leadscore_processing_seconds_bucket", "leadscore_ready"}
    assert label_names(expr) == {"le", "job", "instance"}
    assert "leadscore_faust_topic_partition_offset_commited" in allowed_metrics()
    assert "leadscore_faust_messages_received_total" in allowed_metrics()
    assert "leadscore_events" not in allowed_metrics()  # counters are exposed with _total


# ------------------------------------------------------------------ every YAML file parses


def yaml_files() -> list[Path]:
    files = sorted(path for pattern in ("*.yml", "*.yaml") for path in DEPLOY.rglob(pattern))
    return [*files, COMPOSE]


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def test_yaml_files_exist() -> None:
    relative = {path.relative_to(ROOT).as_posix() for path in yaml_files()}
    for expected in (
        "docker-compose.yml",
        "deploy/prometheus/prometheus.yml",
        "deploy/prometheus/rules/leadscore.rules.yml",
        "deploy/prometheus/tests/leadscore.rules.test.yml",
        "deploy/grafana/provisioning/datasources/prometheus.yml",
        "deploy/grafana/provisioning/dashboards/leadscore.yml",
        "deploy/k8s/kustomization.yaml",
        "deploy/k8s/statefulset.yaml",
        "deploy/k8s/prometheusrule.yaml",
    ):
        assert expected in relative


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


# ------------------------------------------------------------------ Prometheus and promtool


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail(
            "promtool is not on PATH: `make test` installs it "
            "(apt-get install -y prometheus, Debian's package)."
        )
    return subprocess.run(
        [exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def test_promtool_check_rules() -> None:
    assert_ok(promtool("check", "rules", str(RULES_FILE)))


def test_promtool_check_config() -> None:
    assert_ok(promtool("check", "config", str(PROM_CONFIG)))


def test_promtool_test_rules() -> None:
    assert_ok(promtool("test", "rules", str(RULES_TEST)))


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


EXPECTED_ALERTS = {
    "LeadscoreWorkerDown",
    "LeadscoreConsumerLagGrowing",
    "LeadscoreDeadLetterRateHigh",
    "LeadscoreNoEventsApplied",
    "LeadscoreAlertDeliveryFailing",
    "LeadscoreScoreLatencyHigh",
}


def test_alert_rules_are_complete_and_safe() -> None:
    by_name = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(by_name) == EXPECTED_ALERTS
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert set(rule["labels"]) <= {"severity"}, f"{name}: unexpected labels"
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key), f"{name}: no {key} annotation"
        check_expr(rule["expr"], name)
        assert f'job="{JOB}"' in rule["expr"], f"{name}: must select job={JOB}"


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    doc = yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))
    fires: set[str] = set()
    silent: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fires == EXPECTED_ALERTS
    assert silent == EXPECTED_ALERTS


def test_prometheus_scrapes_the_worker() -> None:
    config = yaml.safe_load(PROM_CONFIG.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [t for sc in jobs[JOB]["static_configs"] for t in sc["targets"]]
    assert targets == [f"worker:{WEB_PORT}"]
    rule_files = [(PROM_CONFIG.parent / f).resolve() for f in config["rule_files"]]
    assert RULES_FILE.resolve() in rule_files


# ------------------------------------------------------------------ Grafana


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def test_dashboard_is_a_grafana_dashboard() -> None:
    dash = dashboard()
    assert dash["uid"] == "leadscore"
    assert dash["title"]
    assert isinstance(dash["schemaVersion"], int)
    panels = list(dashboard_panels(dash["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] > 0 and grid["y"] >= 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "gauge", "table", "bargauge"}
        assert panel["title"] and panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"], panel["title"]
    variables = {var["name"]: var for var in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_dashboard_uses_only_exposed_metrics() -> None:
    dash = dashboard()
    for panel in dashboard_panels(dash["panels"]):
        for target in panel.get("targets", []):
            check_expr(target["expr"], panel["title"])
            personal = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
            assert not personal & FORBIDDEN_LABELS, panel["title"]
    for var in dash["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        assert match, query
        check_expr(match.group(1), f"variable {var['name']}")


def test_dashboard_covers_the_operations_views() -> None:
    exprs = " ".join(
        target["expr"]
        for panel in dashboard_panels(dashboard()["panels"])
        for target in panel.get("targets", [])
    )
    used = metric_names(exprs)
    for metric in (
        "leadscore_events_total",
        "leadscore_faust_topic_partition_end_offset",
        "leadscore_faust_topic_partition_offset_commited",
        "leadscore_event_to_score_seconds_bucket",
        "leadscore_dead_letters_total",
        "leadscore_bot_flags_total",
        "leadscore_machine_engagement_total",
        "leadscore_alerts_total",
        "leadscore_score_updates_total",
        "leadscore_leads_in_state",
        "leadscore_webhook_deliveries_total",
    ):
        assert metric in used, f"no panel shows {metric}"
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) (rate(leadscore_event_to_score" in exprs
    assert "by (topic, outcome)" in exprs
    assert "by (reason)" in exprs and "by (threshold)" in exprs


def test_grafana_provisioning() -> None:
    datasources = yaml.safe_load(
        (GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    assert datasources["apiVersion"] == 1
    (prom,) = datasources["datasources"]
    assert prom["type"] == "prometheus" and prom["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (GRAFANA_PROVISIONING / "dashboards" / "leadscore.yml").read_text(encoding="utf-8")
    )
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    # The compose file mounts the dashboards directory where the provider reads.
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts


# ------------------------------------------------------------------ Docker


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms and all(image == "python:3.11-slim" for image in froms)
    assert any(re.fullmatch(r"RUN pip install (--no-cache-dir )?\.", line) for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert f"EXPOSE {WEB_PORT}" in lines
    assert re.search(r"HEALTHCHECK .*\n?.*?/healthz", text)
    assert [line for line in lines if line][-1] == 'CMD ["leadscore", "worker"]'


def test_dockerignore_keeps_what_pip_install_needs() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "expected an allow-list"
    for needed in ("pyproject.toml", "README.md", "streams/", "schemas/"):
        assert f"!{needed}" in lines
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            source = source.rstrip("*")  # README.md* copies the file only when it exists
            assert f"!{source}" in lines or f"!{source}/" in lines, source


# ------------------------------------------------------------------ docker-compose


@cache
def compose_schema() -> dict[str, Any]:
    ref = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(ref.read_text(encoding="utf-8"))
    return schema


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def compose_validator() -> jsonschema.Draft7Validator:
    # The schema says draft-07 (with a $schema URL jsonschema does not recognise).
    schema = compose_schema()
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_validates_against_compose_spec() -> None:
    errors = sorted(compose_validator().iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_schema_rejects_a_broken_file() -> None:
    broken = compose()
    broken["services"]["worker"]["depends_on"]["topics"]["condition"] = "service_finished"
    assert not compose_validator().is_valid(broken)
    broken = compose()
    broken["services"]["worker"]["healthcheck"]["intervall"] = "10s"
    assert not compose_validator().is_valid(broken)


def settings_env_names() -> set[str]:
    from streams.settings import Settings

    return {f"LEADSCORE_{name.upper()}" for name in Settings.model_fields}


def test_compose_services() -> None:
    services = compose()["services"]
    assert set(services) >= {"kafka", "topics", "worker", "prometheus", "grafana"}
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert "healthcheck" in kafka
    topics = services["topics"]
    assert topics["command"] == ["leadscore", "topics", "create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    worker = services["worker"]
    assert worker["command"] == ["leadscore", "worker"]
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(worker["healthcheck"]["test"])
    assert f"{WEB_PORT}:{WEB_PORT}" in worker["ports"]
    for name in ("topics", "worker"):
        env = services[name]["environment"]
        assert set(env) <= settings_env_names(), f"{name}: unknown LEADSCORE_* variable"
        assert env["LEADSCORE_WEB_HOST"] == "0.0.0.0"
    prometheus_mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in (
        prometheus_mounts
    )
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prometheus_mounts
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"bind mount source missing: {source}"


# ------------------------------------------------------------------ Kubernetes

K8S_VERSIONS = ("1.29.0", "latest")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
NOT_RESOURCES = {"kustomization.yaml"}


def k8s_manifests() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name not in NOT_RESOURCES
        for doc in load_all(path)
    ]


def k8s_by_kind() -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in k8s_manifests()}


def test_k8s_manifests_are_namespace_agnostic() -> None:
    manifests = k8s_manifests()
    assert manifests
    for filename, doc in manifests:
        assert "namespace" not in doc["metadata"], filename
    assert "namespace" not in yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_validate_against_kubernetes_schemas(version: str) -> None:
    import kubernetes_validate

    if version == "latest":
        version = kubernetes_validate.latest_version()
    checked = set()
    for filename, doc in k8s_manifests():
        if doc["kind"] in CRD_KINDS:
            continue  # not in Kubernetes' schemas: see test_k8s_crds_have_their_structure
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{filename} {doc['kind']}: {error.message} at {list(error.path)}")
        checked.add(doc["kind"])
    assert checked >= {"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"}


def test_k8s_schema_check_rejects_a_typo() -> None:
    import kubernetes_validate

    statefulset = k8s_by_kind()[("StatefulSet", "leadscore")]
    broken = json.loads(json.dumps(statefulset))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.29.0", strict=True)


_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "labels": _LABELS},
    "additionalProperties": False,
}
SERVICEMONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {"matchLabels": _LABELS},
                    "additionalProperties": False,
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port", "path"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": r"^\d+[smh]$"},
                            "scrapeTimeout": {"type": "string", "pattern": r"^\d+[smh]$"},
                        },
                    },
                },
            },
        },
    },
}
_RULE = {
    "type": "object",
    "required": ["expr"],
    "additionalProperties": False,
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string"},
        "record": {"type": "string"},
        "expr": {"type": "string", "minLength": 1},
        "for": {"type": "string", "pattern": r"^\d+[smh]$"},
        "labels": _LABELS,
        "annotations": _LABELS,
    },
}
PROMETHEUSRULE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "interval": {"type": "string"},
                            "rules": {"type": "array", "minItems": 1, "items": _RULE},
                        },
                    },
                }
            },
        },
    },
}


def test_k8s_crds_have_their_structure() -> None:
    kinds = k8s_by_kind()
    jsonschema.validate(kinds[("ServiceMonitor", "leadscore")], SERVICEMONITOR_SCHEMA)
    jsonschema.validate(kinds[("PrometheusRule", "leadscore")], PROMETHEUSRULE_SCHEMA)


def test_servicemonitor_scrapes_the_web_service_as_job_leadscore() -> None:
    kinds = k8s_by_kind()
    monitor = kinds[("ServiceMonitor", "leadscore")]["spec"]
    selected = [
        doc
        for (kind, _), doc in kinds.items()
        if kind == "Service"
        and monitor["selector"]["matchLabels"].items() <= doc["metadata"]["labels"].items()
    ]
    assert len(selected) == 1, "the ServiceMonitor must select exactly one Service"
    (service,) = selected
    assert service["spec"].get("clusterIP") != "None"
    assert service["metadata"]["labels"][monitor["jobLabel"]] == JOB
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in monitor["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] == "/metrics"


def load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("leadscore_k8s_render", K8S / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheusrule_is_generated_from_the_rules_file() -> None:
    rule = k8s_by_kind()[("PrometheusRule", "leadscore")]
    assert rule["spec"] == yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    render = load_render()
    assert (K8S / "prometheusrule.yaml").read_text(encoding="utf-8") == (
        render.render_prometheusrule()
    ), "deploy/k8s/prometheusrule.yaml is stale: run python deploy/k8s/render.py"


def test_model_configmap_is_generated_from_the_default_model() -> None:
    render = load_render()
    configmap = k8s_by_kind()[("ConfigMap", "leadscore-model")]
    model = ROOT / "streams" / "core" / "default_model.yaml"
    if model.is_file():
        assert configmap["data"] == {"model.yaml": model.read_text(encoding="utf-8")}
    else:
        assert configmap["data"] == {}, "placeholder expected while the model file is missing"
    assert render.stale_files() == [], "stale generated manifests: run python deploy/k8s/render.py"


def test_statefulset_wiring() -> None:
    kinds = k8s_by_kind()
    statefulset = kinds[("StatefulSet", "leadscore")]
    spec = statefulset["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["leadscore", "worker"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": WEB_PORT}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]

    # Settings: a ConfigMap for the LEADSCORE_* variables, a Secret for the SASL password.
    (env_from,) = container["envFrom"]
    config = kinds[("ConfigMap", env_from["configMapRef"]["name"])]["data"]
    assert set(config) <= settings_env_names(), "unknown LEADSCORE_* variable in the ConfigMap"
    assert "LEADSCORE_SASL_PASSWORD" not in config
    env = {item["name"]: item for item in container["env"]}
    secret_ref = env["LEADSCORE_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    example = kinds[("Secret", secret_ref["name"])]
    assert secret_ref["key"] in example["stringData"]
    assert int(config["LEADSCORE_WEB_PORT"]) == WEB_PORT
    assert config["LEADSCORE_WEB_HOST"] == "0.0.0.0"

    # LEADSCORE_DATA_DIR is the per-pod volume; LEADSCORE_MODEL_PATH is in the model ConfigMap.
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    claims = {claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]}
    data_volume = next(
        name for name, path in mounts.items() if path == config["LEADSCORE_DATA_DIR"]
    )
    assert data_volume in claims
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    model_path = Path(config["LEADSCORE_MODEL_PATH"])
    model_volume = next(name for name, path in mounts.items() if Path(path) == model_path.parent)
    assert volumes[model_volume]["configMap"]["name"] == "leadscore-model"
    assert ("ConfigMap", "leadscore-model") in kinds

    # The headless Service governs the StatefulSet; both Services select its pods.
    headless = kinds[("Service", spec["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    for (kind, _), doc in kinds.items():
        if kind == "Service":
            assert doc["spec"]["selector"].items() <= pod_labels.items()
            assert {port["targetPort"] for port in doc["spec"]["ports"]} == {"http"}


KUSTOMIZATION_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "resources"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "kustomize.config.k8s.io/v1beta1"},
        "kind": {"const": "Kustomization"},
        "resources": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "labels": {"type": "array"},
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "newName": {"type": "string"},
                    "newTag": {"type": "string"},
                    "digest": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
    },
}


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(kustomization, KUSTOMIZATION_SCHEMA)
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - NOT_RESOURCES
    # The example Secret is documentation: applying it would overwrite the real password.
    assert listed == on_disk - {"secret.example.yaml"}
    images = {image["name"] for image in kustomization["images"]}
    statefulset = k8s_by_kind()[("StatefulSet", "leadscore")]
    image = statefulset["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.split(":")[0] in images

"""Deployment files: Prometheus rules and config, Alertmanager, Grafana, the runbook, Docker
and its lockfile, docker-compose, Kubernetes.

Fast and offline: no Kafka, no Docker, no cluster, no package index. Schemas come from
installed packages (check-jsonschema's vendored compose-spec schema, kubernetes-validate's
Kubernetes schemas); promtool comes from Debian's `prometheus` package, which `make test`
installs; the lockfile is checked against pyproject.toml and the installed packages' metadata.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
PYPROJECT = ROOT / "pyproject.toml"
LOCKFILE = ROOT / "requirements.lock"

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
    "leadscore_model_rejected": "counter",
    "leadscore_republished": "counter",
    "leadscore_visitors_held": "gauge",
    "leadscore_visitor_views": "counter",
    "leadscore_segment_messages": "counter",
    "leadscore_accounts_held": "gauge",
    "leadscore_account_updates": "counter",
    "leadscore_account_alerts": "counter",
}
FAUST_PREFIX = "leadscore_faust"
# prometheus_client's process collector (on Linux), served on the same /metrics.
PROCESS_METRICS = {
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}
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


def _faust_families() -> set[tuple[str, str]]:
    """(name, type) of the Faust sensor's metric families as the worker registers them."""
    from prometheus_client import CollectorRegistry

    from streams.upstream import sensor

    registry = CollectorRegistry()
    create = getattr(sensor, "faust_metrics", None)
    if create is not None:
        create(registry, FAUST_PREFIX)
    else:  # the sensor before its latency histograms moved to seconds
        from faust.sensors.prometheus import FaustMetrics

        FaustMetrics.create(registry, FAUST_PREFIX)
    return {(family.name, family.type) for family in registry.collect()}


@cache
def recorded_metrics() -> frozenset[str]:
    """Series the rules file records itself (recording rules)."""
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return frozenset(
        rule["record"] for group in doc["groups"] for rule in group["rules"] if "record" in rule
    )


@cache
def allowed_metrics() -> frozenset[str]:
    """Every series name the worker exposes (Faust's sensor and the process collector
    included), plus `up` and the rules' recorded series."""
    names = set(SYNTHETIC_METRICS) | recorded_metrics()
    for name, kind in _faust_families():
        names |= _exposed(name, kind)
    for name, kind in (BUSINESS_METRICS | PROCESS_METRICS).items():
        names |= _exposed(name, kind)
    return frozenset(names)


def test_the_worker_registers_the_metric_contract() -> None:
    """BUSINESS_METRICS and PROCESS_METRICS are what the worker's /metrics registry holds."""
    from prometheus_client import REGISTRY

    import streams.app.metrics  # noqa: F401  # registers the business metrics

    registered = {family.name: family.type for family in REGISTRY.collect()}
    for name, kind in (BUSINESS_METRICS | PROCESS_METRICS).items():
        assert registered.get(name) == kind, f"{name}: {registered.get(name)}, expected {kind}"


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
        "deploy/alertmanager/alertmanager.yml",
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
    "LeadscoreWorkerNotReady",
    "LeadscoreConsumerLagGrowing",
    "LeadscoreDeadLetterRateHigh",
    "LeadscoreNoEventsApplied",
    "LeadscoreAlertDeliveryFailing",
    "LeadscoreScoreLatencyHigh",
    "LeadscoreModelRejected",
    "LeadscoreMemoryNearLimit",
}
MEMORY_LIMIT_RECORD = "leadscore:memory_limit_bytes"


def test_alert_rules_are_complete_and_safe() -> None:
    by_name = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(by_name) == EXPECTED_ALERTS
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert set(rule["labels"]) <= {"severity"}, f"{name}: unexpected labels"
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, name
        for key in ("summary", "description", "runbook_url"):
            assert rule["annotations"][key], f"{name}: empty {key} annotation"
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: no `for:`"
        check_expr(rule["expr"], name)
        assert f'job="{JOB}"' in rule["expr"], f"{name}: must select job={JOB}"


def test_recording_rules() -> None:
    """The only recording rule is the memory limit, a constant labelled job="leadscore"."""
    recorded = {rule["record"]: rule for rule in rules() if "record" in rule}
    assert set(recorded) == {MEMORY_LIMIT_RECORD}
    expr = recorded[MEMORY_LIMIT_RECORD]["expr"]
    assert f'"job", "{JOB}"' in expr
    assert memory_limit_recorded() > 0
    used = " ".join(rule["expr"] for rule in rules() if "alert" in rule)
    assert MEMORY_LIMIT_RECORD in metric_names(used), "recorded but no alert uses it"


def memory_limit_recorded() -> int:
    """The constant leadscore:memory_limit_bytes records (bytes)."""
    (rule,) = [rule for rule in rules() if rule.get("record") == MEMORY_LIMIT_RECORD]
    match = re.search(r"vector\((\d+)\)", rule["expr"])
    assert match, rule["expr"]
    return int(match.group(1))


# ------------------------------------------------------------------ the runbook


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings (lower case, punctuation dropped)."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_github_anchors() -> None:
    assert github_anchors("# leadscore runbook\n## LeadscoreWorkerDown\n## First look, any\n") == {
        "leadscore-runbook",
        "leadscoreworkerdown",
        "first-look-any",
    }


def test_every_alert_links_its_runbook_section() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    anchors = github_anchors(text)
    bases = set()
    for rule in rules():
        if "alert" not in rule:
            continue
        url = rule["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        bases.add(base)
        assert anchor == rule["alert"].lower(), f"{rule['alert']}: links #{anchor}"
        assert anchor in anchors, f"{rule['alert']}: docs/runbook.md has no section #{anchor}"
    # One base for every link, an address of docs/runbook.md, and documented in it.
    (base,) = bases
    assert re.fullmatch(r"https://\S+/docs/runbook\.md", base), base
    assert base in text, "docs/runbook.md must name the link base the rules use"
    # Every alert has a section, and every alert section is an alert.
    sections = set(re.findall(r"^## (Leadscore\w+)$", text, re.MULTILINE))
    assert sections == EXPECTED_ALERTS


def test_runbook_commands_exist() -> None:
    """The `leadscore X Y` commands the runbook names are commands of the CLI."""
    text = RUNBOOK.read_text(encoding="utf-8")
    named = {f"{group} {command}" for group, command in re.findall(r"`leadscore (\w+) (\w+)", text)}
    assert named
    # The CLI's command tree, from a fresh process (registering the tools mutates the app).
    script = (
        "import json, typer.main, streams.cli as c; c.register_commands(); "
        "g = typer.main.get_command(c.app); "
        "print(json.dumps([f'{n} {s}' for n, cmd in g.commands.items() "
        "for s in getattr(cmd, 'commands', {})]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    missing = named - set(json.loads(result.stdout))
    assert not missing, f"docs/runbook.md names commands the CLI lacks: {sorted(missing)}"


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


def test_prometheus_sends_alerts_to_alertmanager() -> None:
    config = yaml.safe_load(PROM_CONFIG.read_text(encoding="utf-8"))
    targets = [
        target
        for manager in config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    service = compose()["services"]["alertmanager"]
    assert re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", service["image"])
    assert "9093:9093" in service["ports"]
    source = ALERTMANAGER_CONFIG.relative_to(ROOT).as_posix()
    assert f"./{source}:/etc/alertmanager/alertmanager.yml:ro" in service["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in service["command"]
    assert "alertmanager" in compose()["services"]["prometheus"]["depends_on"]


def test_alertmanager_config() -> None:
    """Every route ends at a defined receiver; no credential is written in the file.
    (`amtool check-config deploy/alertmanager/alertmanager.yml` checks the rest.)"""
    text = ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    receivers = [receiver["name"] for receiver in config["receivers"]]
    assert len(receivers) == len(set(receivers))

    def walk(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield route
        for child in route.get("routes", []):
            yield from walk(child)

    assert config["route"]["receiver"] in receivers
    for route in walk(config["route"]):
        assert route.get("receiver", config["route"]["receiver"]) in receivers
    # Secrets are mounted files (`*_file` settings), never values, even in comments.
    for key in ("api_url", "password", "auth_password", "routing_key", "service_key", "token"):
        assert not re.search(rf"^\s*#?\s*-?\s*{key}:", text, re.MULTILINE), key
    assert "hooks.slack.com" not in text


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


# python:3.11.<patch>-slim-<debian>, optionally @sha256:<digest>: never a moving tag.
PINNED_PYTHON_IMAGE = r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    args = dict(
        line.removeprefix("ARG ").split("=", 1)
        for line in lines
        if line.startswith("ARG ") and "=" in line
    )
    froms = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], line.split()[1])
        for line in lines
        if line.startswith("FROM ")
    ]
    assert len(froms) == 2 and len(set(froms)) == 1, froms  # build and run on one base
    assert re.fullmatch(PINNED_PYTHON_IMAGE, froms[0]), f"base image not pinned: {froms[0]}"

    # Dependencies from the lockfile in their own layer, before any code is copied; then the
    # project itself without dependencies.
    def index(pattern: str) -> int:
        found = [i for i, line in enumerate(lines) if re.fullmatch(pattern, line)]
        assert len(found) == 1, f"expected one line matching {pattern!r}"
        return found[0]

    copy_lock = index(r"COPY requirements\.lock \./")
    install_lock = index(r"RUN pip install (--no-cache-dir )?--no-deps -r requirements\.lock")
    copy_code = [
        i for i, line in enumerate(lines) if re.match(r"COPY (streams|schemas|pyproject)", line)
    ]
    install_project = index(r"RUN pip install (--no-cache-dir )?--no-deps \.( && pip check)?")
    assert copy_lock < install_lock < min(copy_code)
    assert max(copy_code) < install_project
    assert "LEADSCORE_WEB_BIND=0.0.0.0" in text
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


# ------------------------------------------------------------------ the lockfile


def lockfile_pins() -> dict[str, tuple[str, str]]:
    """requirements.lock: canonical name -> (name as written, version); `==` pins only."""
    pins: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(LOCKFILE.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==" and "*" not in spec.version, f"line {number}: {raw}"
        assert not requirement.extras and requirement.marker is None, f"line {number}: {raw}"
        key = canonicalize_name(requirement.name)
        assert key not in pins, f"line {number}: {requirement.name} pinned twice"
        pins[key] = (requirement.name, spec.version)
    return pins


def project_dependencies() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def runtime_closure() -> set[str]:
    """Canonical names of the installed distributions the runtime dependencies need,
    transitively (extras followed, markers evaluated for this interpreter), found from the
    installed packages' metadata: no index, no network."""
    seen: dict[str, set[str]] = {}  # name -> extras already followed
    todo = [r for r in project_dependencies() if r.marker is None or r.marker.evaluate()]
    while todo:
        requirement = todo.pop()
        key = canonicalize_name(requirement.name)
        followed = seen.get(key)
        if followed is not None and set(requirement.extras) <= followed:
            continue
        extras = (followed or set()) | set(requirement.extras)
        seen[key] = extras
        for text in metadata.distribution(requirement.name).requires or []:
            child = Requirement(text)
            if child.marker is None or any(
                child.marker.evaluate({"extra": extra}) for extra in extras | {""}
            ):
                todo.append(child)
    return set(seen)


def test_lockfile_pins_every_runtime_dependency_within_pyproject() -> None:
    pins = lockfile_pins()
    for requirement in project_dependencies():
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement.name} is not pinned in requirements.lock (make lock)"
        version = pins[key][1]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {requirement.name}=={version}, pyproject.toml says "
            f"{requirement} (make lock)"
        )


def test_lockfile_is_the_runtime_closure() -> None:
    """Every package the runtime needs is pinned, and nothing else (no stale entries, no
    development tools)."""
    pinned = set(lockfile_pins())
    closure = runtime_closure()
    assert not closure - pinned, f"not pinned (make lock): {sorted(closure - pinned)}"
    assert not pinned - closure, f"stale or not runtime (make lock): {sorted(pinned - closure)}"
    for tool in ("pytest", "mypy", "ruff", "hypothesis", "faker", "jsonschema", "py-spy"):
        assert tool not in pinned, tool
    assert "leadscore" not in pinned  # the image installs the project itself, --no-deps


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


def compose_bytes(value: str | int) -> int:
    """A compose memory size (1g, 512m, 1024k, bytes): powers of 1024, as Docker reads it."""
    match = re.fullmatch(r"(\d+)\s*([bkmg]?)b?", str(value).lower())
    assert match, value
    return int(match.group(1)) * 1024 ** "bkmg".index(match.group(2) or "b")


def k8s_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity: 512Mi, 1Gi (binary) or 1G, 500M (decimal) or bytes."""
    match = re.fullmatch(r"(\d+)([KMGT]i|[kMGT])?", quantity)
    assert match, quantity
    suffix = match.group(2) or ""
    factor = 1
    if suffix:
        power = "KMGT".index(suffix[0].upper()) + 1
        factor = (1024 if suffix.endswith("i") else 1000) ** power
    return int(match.group(1)) * factor


def test_memory_size_parsers() -> None:
    assert compose_bytes("1g") == compose_bytes("1024m") == 2**30
    assert k8s_bytes("1Gi") == 2**30 and k8s_bytes("512Mi") == 2**29
    assert k8s_bytes("1G") == 10**9 and k8s_bytes("100") == 100


def settings_env_names() -> set[str]:
    """Every LEADSCORE_* variable the settings read: fields, and their aliases (a setting
    read under several names, e.g. LEADSCORE_WEB_BIND and its former LEADSCORE_WEB_HOST)."""
    from pydantic import AliasChoices

    from streams.settings import Settings

    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(f"LEADSCORE_{name.upper()}")
        elif isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


def test_settings_env_names() -> None:
    names = settings_env_names()
    assert {"LEADSCORE_KAFKA_BOOTSTRAP", "LEADSCORE_WEB_PORT"} <= names
    assert {"LEADSCORE_WEB_BIND", "LEADSCORE_ADVERTISED_URL"} <= names


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
    console = services["console"]
    assert console["command"] == ["leadscore", "console"]
    assert console["environment"]["LEADSCORE_CONSOLE_API_URL"] == f"http://worker:{WEB_PORT}"
    assert console["depends_on"]["worker"]["condition"] == "service_healthy"
    for name in ("topics", "worker", "console"):
        env = services[name]["environment"]
        assert set(env) <= settings_env_names(), f"{name}: unknown LEADSCORE_* variable"
        assert env["LEADSCORE_WEB_BIND"] == "0.0.0.0"
    # Every worker service advertises its own service name (table routing between workers).
    workers = {
        name: service
        for name, service in services.items()
        if service.get("command") == ["leadscore", "worker"]
    }
    assert "worker" in workers
    for name, service in workers.items():
        env = service["environment"]
        assert env["LEADSCORE_ADVERTISED_URL"] == f"http://{name}:{env['LEADSCORE_WEB_PORT']}"
        # The memory limit LeadscoreMemoryNearLimit measures against.
        assert compose_bytes(service["mem_limit"]) == memory_limit_recorded(), name
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
    names = [item["name"] for item in container["env"]]
    assert len(names) == len(set(names))
    leadscore_env = {name for name in names if name.startswith("LEADSCORE_")}
    assert leadscore_env <= settings_env_names(), "unknown LEADSCORE_* variable in env"

    # Bind every interface; advertise the pod's stable DNS name through the headless Service
    # (a StatefulSet: the name survives restarts, the IP does not), built with the Downward API.
    effective = {**config, **{n: env[n]["value"] for n in leadscore_env if "value" in env[n]}}
    assert effective["LEADSCORE_WEB_BIND"] == "0.0.0.0"
    assert "LEADSCORE_WEB_HOST" not in effective  # the former name: one spelling only
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    advertised = env["LEADSCORE_ADVERTISED_URL"]["value"]
    assert advertised == (
        f"http://$(POD_NAME).{spec['serviceName']}.$(POD_NAMESPACE).svc:{ports['http']}"
    )
    # $(VAR) expands only variables defined before it in the list.
    for variable in re.findall(r"\$\((\w+)\)", advertised):
        assert names.index(variable) < names.index("LEADSCORE_ADVERTISED_URL"), variable

    # Memory sized from the README's measurements (comment in statefulset.yaml), and the same
    # limit the LeadscoreMemoryNearLimit rule records.
    resources = container["resources"]
    request = k8s_bytes(resources["requests"]["memory"])
    limit = k8s_bytes(resources["limits"]["memory"])
    assert 256 * 2**20 <= request <= limit
    assert limit == memory_limit_recorded()

    # No API token in the pod; replicas spread across nodes.
    assert pod["automountServiceAccountToken"] is False
    by_key = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    node_spread = by_key["kubernetes.io/hostname"]
    assert node_spread["maxSkew"] == 1
    selected = node_spread["labelSelector"]["matchLabels"].items()
    assert selected <= spec["template"]["metadata"]["labels"].items()

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

    # The headless Service governs the StatefulSet; both worker Services select its pods.
    headless = kinds[("Service", spec["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    # A recovering (unready) peer's name must resolve too: routing reaches it meanwhile.
    assert headless["spec"]["publishNotReadyAddresses"] is True
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    console = kinds[("Deployment", "leadscore-console")]["spec"]["template"]
    for (kind, name), doc in kinds.items():
        if kind == "Service":
            pods = console if name == "leadscore-console" else spec["template"]
            assert doc["spec"]["selector"].items() <= pods["metadata"]["labels"].items(), name
            assert {port["targetPort"] for port in doc["spec"]["ports"]} == {"http"}
    # The console asks the workers' Service, and loads the same model file until one is
    # published.
    env = {e["name"]: e.get("value") for e in console["spec"]["containers"][0]["env"]}
    assert env["LEADSCORE_CONSOLE_API_URL"] == "http://leadscore:6066"
    console_mounts = {m["mountPath"] for m in console["spec"]["containers"][0]["volumeMounts"]}
    assert str(model_path.parent) in console_mounts


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

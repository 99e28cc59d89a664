"""The AsyncAPI and OpenAPI documents are current and point at real schema files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas import asyncapi, topics

ROOT = Path(__file__).resolve().parents[1]


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_asyncapi_is_generated_from_the_models() -> None:
    assert asyncapi.main(["--check"]) == 0, "run: python -m schemas.asyncapi"


def test_asyncapi_covers_every_contract_topic_and_resolves() -> None:
    doc = yaml.safe_load(asyncapi.DOC.read_text())
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {t.name for t in topics.ALL if t.direction != "internal"}
    for ref in refs(doc):
        if ref.startswith("#/"):
            node = doc
            for part in ref[2:].split("/"):
                node = node[part]
        else:
            assert (asyncapi.DOC.parent / ref).is_file(), ref


def test_openapi_documents_the_lead_history_and_account_lookups() -> None:
    path = ROOT / "deploy" / "openapi.yaml"
    doc = yaml.safe_load(path.read_text())
    lookups = {"/leads/{lead_id}", "/leads/{lead_id}/history", "/accounts/{account_id}"}
    assert set(doc["paths"]) == {*lookups, "/healthz", "/readyz", "/metrics"}
    for lookup in lookups:
        assert set(doc["paths"][lookup]["get"]["responses"]) == {"200", "401", "403", "404"}
    assert set(doc["components"]["securitySchemes"]) == {"bearer"}
    for open_path in ("/healthz", "/readyz"):
        assert doc["paths"][open_path]["get"]["security"] == []
    for ref in refs(doc):
        if ref.startswith("#/"):  # inside the document: it must resolve
            node = doc
            for part in ref[2:].split("/"):
                node = node[part]
        else:
            assert (path.parent / ref).resolve().is_file(), ref

"""Write the AsyncAPI document of leadscore's topics, generated from the schema models.

    python -m schemas.asyncapi            # regenerate schemas/asyncapi.yaml
    python -m schemas.asyncapi --check    # exit 1 when the checked-in file is stale

Payloads point at the JSON Schema files that schemas.export writes, so there is one
source of truth (the pydantic models) and other teams can generate clients.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from schemas import events, outputs, segment, topics

DOC = Path(__file__).parent / "asyncapi.yaml"
SCHEMA_FORMAT = "application/schema+json;version=draft-07"

# AsyncAPI actions are from leadscore's point of view: it receives inputs, sends outputs.
_ACTIONS = {"input": "receive", "output": "send"}


def _message(name: str, key: str) -> dict[str, Any]:
    model = getattr(events, name, None) or getattr(outputs, name, None) or getattr(segment, name)
    return {
        "name": name,
        "title": name,
        "summary": (model.__doc__ or name).strip().splitlines()[0],
        "contentType": "application/json",
        "bindings": {"kafka": {"key": {"type": "string", "description": key}}},
        "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": f"json/{name}.json"}},
    }


def build() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document as plain data."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics.ALL:
        action = _ACTIONS.get(topic.direction)
        if action is None:  # internal topics are no part of the published API
            continue
        names = topic.messages
        cid = topic.name.replace(".", "_").replace("-", "_")
        channels[cid] = {
            "address": topic.name,
            "summary": topic.summary,
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        operations[f"{action}_{cid}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{n}"} for n in names],
        }
        messages.update({n: _message(n, topic.key) for n in names})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "leadscore",
            "version": "1.0.0",
            "description": "Real-time lead scoring. Topics are keyed by lead_id (a visitor's "
            "page views and links by anonymous_id, accounts by account_id); input topics are "
            "co-partitioned (murmur2 of the key).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return yaml.safe_dump(build(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is stale: run python -m schemas.asyncapi", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the JSON Schema of every message to schemas/json/, or check that they are current.

    python -m schemas.export            # regenerate
    python -m schemas.export --check    # exit 1 and list stale files

Producers validate against these files, so they are generated from the models, never edited.
Every *.json file in that directory is generated: one without a model is reported as stale
and removed when the files are written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import orjson
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from schemas import events, outputs, segment

JSON_DIR = Path(__file__).parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Every member of the InputEvent union (one list of event models: the union's).
_INPUT_MODELS: tuple[type[BaseModel], ...] = get_args(get_args(events.InputEvent)[0])
_OUTPUT_MODELS: tuple[type[BaseModel], ...] = (
    outputs.ScoreUpdate,
    outputs.Alert,
    outputs.DeadLetter,
    outputs.AccountScore,
    outputs.AccountAlert,
    outputs.ScoreHistory,
)


def _model_schema(model: type[BaseModel], mode: JsonSchemaMode) -> Callable[[], dict[str, Any]]:
    return lambda: model.model_json_schema(mode=mode)


def _input_event_schema() -> dict[str, Any]:
    schema = TypeAdapter(events.InputEvent).json_schema(mode="validation")
    schema["title"] = "InputEvent"
    return schema


# Inputs are described as they are accepted, outputs as they are written.
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    **{model.__name__: _model_schema(model, "validation") for model in _INPUT_MODELS},
    "InputEvent": _input_event_schema,
    # leads.segment's envelope (Segment Spec), as documentation: translation reads more.
    "SegmentMessage": _model_schema(segment.SegmentMessage, "validation"),
    **{model.__name__: _model_schema(model, "serialization") for model in _OUTPUT_MODELS},
}


def render() -> dict[str, bytes]:
    """File name -> exact file content, for every exported schema."""
    return {f"{name}.json": _dump({"$schema": DIALECT, **make()}) for name, make in SCHEMAS.items()}


def _dump(schema: dict[str, Any]) -> bytes:
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    return orjson.dumps(schema, option=options)


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of files that are missing, out of date, or have no model any more."""
    expected = render()
    present = {path.name for path in directory.glob("*.json")}
    outdated = [name for name, content in expected.items() if _read(directory / name) != content]
    return sorted(set(outdated) | (present - expected.keys()))


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def write(directory: Path = JSON_DIR) -> list[str]:
    """Bring the directory up to date; returns the names of the files changed or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    expected = render()
    changed = stale_files(directory)
    for name in changed:
        path = directory / name
        if name in expected:
            path.write_bytes(expected[name])
        else:
            path.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: {JSON_DIR / name}", file=sys.stderr)
        if stale:
            print("run: python -m schemas.export", file=sys.stderr)
        return 1 if stale else 0
    for name in write():
        path = JSON_DIR / name
        print(f"{'updated' if path.exists() else 'removed'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

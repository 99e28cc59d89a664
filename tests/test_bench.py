"""The bench's own rules: what a latency is timed from, and how a variant is given."""

from __future__ import annotations

import argparse

import pytest

from bench.latency import note_sent, released_at
from bench.patched import PATCHES
from bench.run import EXACTLY_ONCE, Variant, parse_args, parse_variant


def test_a_held_view_is_timed_from_its_visitors_first_link() -> None:
    stamps: dict[str, int] = {}
    held: dict[str, str] = {}
    linked: dict[str, int] = {}
    sent = [
        ({"event_id": "v1", "type": "page.viewed", "anonymous_id": "anon-1"}, 1_000),
        ({"event_id": "f1", "type": "form.submitted", "lead_id": "lead-1"}, 1_100),
        ({"event_id": "v2", "type": "page.viewed", "anonymous_id": "anon-2"}, 1_200),
        (
            {
                "event_id": "k1",
                "type": "identity.linked",
                "anonymous_id": "anon-1",
                "lead_id": "lead-1",
            },
            3_000,
        ),
        (
            {
                "event_id": "k2",
                "type": "identity.linked",
                "anonymous_id": "anon-1",
                "lead_id": "lead-1",
            },
            4_000,
        ),
        ({"event_id": "v3", "type": "page.viewed", "anonymous_id": "anon-1"}, 5_000),
        (
            {
                "event_id": "w1",
                "type": "page.viewed",
                "anonymous_id": "anon-3",
                "lead_id": "lead-3",
            },
            5_100,
        ),
    ]
    for payload, ts in sent:
        note_sent(payload, ts, stamps, held, linked)
    assert released_at(stamps, held, linked) == {
        "v1": 3_000,  # held until the first link
        "f1": 1_100,
        "v2": 1_200,  # never linked: never scored, its own time kept
        "k1": 3_000,
        "k2": 4_000,
        "v3": 5_000,  # after the link: forwarded at once
        "w1": 5_100,  # a view that names its lead
    }


def test_a_variant_names_validated_settings() -> None:
    assert parse_variant("linger5:producer_linger_ms=5") == Variant(
        "linger5", {"producer_linger_ms": 5.0}
    )
    both = parse_variant("eos-slow:processing_guarantee=exactly_once,commit_interval_seconds=1")
    assert both.update == {"processing_guarantee": "exactly_once", "commit_interval_seconds": 1.0}
    assert EXACTLY_ONCE.update == {"processing_guarantee": "exactly_once"}
    _, args = parse_args(
        ["--quick", "--variant", "a:producer_linger_ms=0", "--variant", "b:producer_linger_ms=50"]
    )
    assert [v.name for v in args.variant] == ["a", "b"]


def test_a_variant_may_set_the_workers_environment_and_patches() -> None:
    plain = parse_variant("nocy:NO_CYTHON=1")
    assert (plain.update, plain.env, plain.module) == ({}, {"NO_CYTHON": "1"}, "streams.cli")
    mixed = parse_variant(
        "alo:processing_guarantee=at_least_once,BENCH_PATCHES=stock_handover+buffer_10000"
    )
    assert mixed.update == {"processing_guarantee": "at_least_once"}
    assert mixed.env == {"BENCH_PATCHES": "stock_handover+buffer_10000"}
    assert mixed.module == "bench.patched"
    assert set(PATCHES) >= {"stock_handover", "stock_partitioner", "buffer_10000"}


@pytest.mark.parametrize(
    "text",
    [
        "linger5",
        "Linger:producer_linger_ms=5",
        "a:no_such_field=1",
        "a:producer_linger_ms=-1",
        "a:",
        "a:BENCH_PATCHES=no_such_patch",
    ],
)
def test_a_bad_variant_is_refused_before_the_run(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_variant(text)


def test_each_patch_changes_what_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from mode import Service

    from streams.app.worker import TUNING
    from streams.upstream.buffer import DrainingBuffer
    from streams.upstream.consumer import StableEndsConsumer

    # Each patched thing is put back as it was at the end (monkeypatch undoes these).
    monkeypatch.setattr(StableEndsConsumer, "wait_first", StableEndsConsumer.wait_first)
    monkeypatch.setitem(TUNING, "producer_partitioner", TUNING["producer_partitioner"])
    monkeypatch.setitem(TUNING, "cython_optimizations", False)
    monkeypatch.setattr(DrainingBuffer, "max_messages", DrainingBuffer.max_messages)
    for patch in PATCHES.values():
        patch()
    assert StableEndsConsumer.wait_first is Service.wait_first
    assert "producer_partitioner" not in TUNING
    assert TUNING["cython_optimizations"] is True
    assert DrainingBuffer.max_messages == 10_000

"""The bench times a page view held for its visitor's link from the link, not the view."""

from __future__ import annotations

from bench.latency import note_sent, released_at


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

"""leadscore's own Prometheus metrics, in one place.

Labels are closed sets (topics, outcomes, error codes, flags, thresholds):
never a lead id, an email or free text.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `<name>_created` series. In the text format Prometheus scrapes, prometheus_client adds
# one beside every counter and histogram child (each label set): a Unix time of creation
# that no rule or dashboard reads (rate() and increase() handle resets without it), which
# would double the worker's series. A process-wide switch read at every scrape, so it
# covers Faust's sensor too; the worker imports this module before it serves /metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

EVENTS = Counter("leadscore_events", "Input messages by topic and outcome", ["topic", "outcome"])
DEAD_LETTERS = Counter("leadscore_dead_letters", "Dead-lettered messages by reason", ["reason"])
MACHINE_ENGAGEMENT = Counter(
    "leadscore_machine_engagement",
    "Opens, clicks and page views judged machine-made, by signal",
    ["signal"],
)
VISITORS = Gauge("leadscore_visitors_held", "Anonymous visitors held in this worker's table")
VISITOR_VIEWS = Counter(
    "leadscore_visitor_views",
    "Anonymous page views: held, forwarded to their lead, dropped (bound) or expired",
    ["outcome"],
)
SEGMENT = Counter(
    "leadscore_segment_messages",
    "Segment Spec messages by call, outcome (translated, ignored, dead_letter) and reason "
    "(why ignored, or the dead-letter code)",
    ["call", "outcome", "reason"],
)
BOT_FLAGS = Counter("leadscore_bot_flags", "Bot flags raised on score updates", ["flag"])
SCORE_UPDATES = Counter("leadscore_score_updates", "Score messages published")
ALERTS = Counter("leadscore_alerts", "Threshold alerts published", ["threshold"])
REPUBLISHED = Counter(
    "leadscore_republished",
    "Outputs sent again for a redelivered event (after a crash they may have been lost)",
    ["kind"],
)
WEBHOOK = Counter("leadscore_webhook_deliveries", "Webhook alert deliveries", ["result"])
EVENT_TO_SCORE = Histogram(
    "leadscore_event_to_score_seconds",
    "Input message timestamp to score message produced",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PROCESSING = Histogram(
    "leadscore_processing_seconds",
    "Handler time per input message",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1),
)
LEADS = Gauge("leadscore_leads_in_state", "Leads held in this worker's table partitions")
ACCOUNTS = Gauge("leadscore_accounts_held", "Accounts with people in this worker's table")
ACCOUNT_UPDATES = Counter("leadscore_account_updates", "Account score messages published")
ACCOUNT_ALERTS = Counter(
    "leadscore_account_alerts", "Account threshold alerts published", ["threshold"]
)
READY = Gauge("leadscore_ready", "1 when the worker has joined its group and recovered tables")
MODEL_INFO = Gauge("leadscore_model_info", "The scoring model in force", ["model_version"])
MODEL_REJECTED = Counter("leadscore_model_rejected", "Model versions refused as invalid")


def init_series(input_topics: list[str]) -> None:
    """Create the series alert rules watch at 0, so rate()/increase() see the first event."""
    for topic in input_topics:
        for outcome in ("applied", "duplicate", "dead_letter"):
            EVENTS.labels(topic, outcome)
    for result in ("ok", "retry", "failed"):
        WEBHOOK.labels(result)
    for outcome in ("held", "forwarded", "dropped", "expired", "forgotten"):
        VISITOR_VIEWS.labels(outcome)

"""A lead's engagement sums, kept up to date record by record.

Per activity the tally holds the exact fixed-point sum (decay.py) of the weights of the
records that earn (or cost) points; records judged machine-made (a scanner's user agent,
too soon after the send, a burst of clicks across one message's links) are counted apart,
and records dated at or before the lead's recycling are left out. Adding
or evicting a record touches its own weight and, for a click, the burst status of that
message's clicks within the burst window around it: the cost of an event does not grow
with the lead's history. `rebuild` recomputes everything from the records (a new model,
an erasure or a recycling, a moved epoch, a state of an older version).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from streams.core import decay
from streams.core.model import EngagementRules
from streams.core.records import (
    BURST,
    CRAWLER,
    KIND_CODES,
    NO_SEND_TIME,
    PAGE_CODES,
    REPEAT,
    SCANNER,
    Record,
    RecordLog,
)
from streams.core.state import LeadState, Tally

CLICK = KIND_CODES["email.clicked"]

# What a mail security scanner does: open, follow links (unsubscribe links too).
MACHINE_KINDS = frozenset({"email.opened", "email.clicked", "email.unsubscribed"})


def machine_signal(kind: str, flags: int, after_ms: int, rules: EngagementRules) -> str | None:
    """Why an open, click or unsubscribe looks machine-made (a mail security scanner), or
    a page view (a crawler)."""
    if flags & CRAWLER:
        return "crawler"
    if flags & SCANNER:  # set on apply for opens, clicks, unsubscribes and page views only
        return "scanner_agent"
    if kind not in MACHINE_KINDS:
        return None
    if after_ms != NO_SEND_TIME and after_ms < rules.min_after_ms:
        return "too_soon"
    return "burst" if flags & BURST else None


def signal_at(log: RecordLog, i: int, rules: EngagementRules) -> str | None:
    r = log[i]
    return machine_signal(r.kind, r.flags, r.after_ms, rules)


def sync(state: LeadState, rules: EngagementRules) -> bool:
    """Rebuild the tally when it was built under other rules; True when it was."""
    if state.tally.key == rules.key:
        return False
    rebuild(state, rules)
    return True


def rebuild(state: LeadState, rules: EngagementRules) -> None:
    log = state.records
    _mark_all_bursts(log, rules)
    _mark_all_repeats(log, rules)
    state.tally = Tally(rules.key)
    newest = log.newest_at()
    for i in range(len(log)):
        _count(state, log[i], rules, newest, +1)


def add(state: LeadState, record: Record, rules: EngagementRules) -> None:
    """Insert `record` into the lead's records and tally."""
    log = state.records
    before = log.newest_at()
    i = log.insert(record)  # re-judging flags below moves no record: `i` stays its index
    after = max(record.at, before or record.at)
    if before is not None and _epochs(before, rules) != _epochs(after, rules):
        rebuild(state, rules)
        return
    if record.kind == "email.clicked" and record.message:
        _rejudge_bursts(state, record.at, record.message, rules, new=record.event)
    elif log.kind[i] in PAGE_CODES:
        _rejudge_repeats(state, record.at, record.message, rules, new=record.event)
    _count(state, log[i], rules, after, +1)


def evict_oldest(state: LeadState, rules: EngagementRules) -> Record:
    """Drop the oldest record from the records and the tally; return it."""
    log = state.records
    newest = log.newest_at()
    gone = log.pop(0)
    _count(state, gone, rules, newest, -1)
    if gone.kind == "email.clicked" and gone.message:
        _rejudge_bursts(state, gone.at, gone.message, rules)
    elif KIND_CODES[gone.kind] in PAGE_CODES:
        _rejudge_repeats(state, gone.at, gone.message, rules)
    return gone


def _epochs(newest: int, rules: EngagementRules) -> tuple[int, ...]:
    return tuple(decay.epoch(newest, h) for h in rules.distinct_half_lives)


def _count(
    state: LeadState, r: Record, rules: EngagementRules, newest: int | None, sign: int
) -> None:
    half_life = rules.half_lives.get(r.kind)
    if half_life is None or newest is None:
        return
    if state.recycled_at is not None and r.at <= state.recycled_at:
        return  # engagement before the lead went back to nurture no longer counts
    tally = state.tally
    if machine_signal(r.kind, r.flags, r.after_ms, rules) is not None:
        tally.machine += sign
        return
    if r.flags & REPEAT:
        return  # the same page again in its session: counted once
    weight = decay.weight(r.at, decay.epoch(newest, half_life), half_life)
    total = tally.sums.get(r.kind, 0) + sign * weight
    if total:
        tally.sums[r.kind] = total
    else:
        tally.sums.pop(r.kind, None)


def _rejudge_bursts(
    state: LeadState, at: int, message: int, rules: EngagementRules, new: int | None = None
) -> None:
    """Burst status of `message`'s clicks within the window of a click added or evicted
    at `at`: only theirs can change. The new click itself is not yet tallied."""
    log = state.records
    window = rules.burst_window_us
    near = [
        i
        for i in log.between(at - 2 * window, at + 2 * window)
        if log.kind[i] == CLICK and log.message[i] == message
    ]
    times = [log.at[i] for i in near]
    newest = log.newest_at()
    for j, i in enumerate(near):
        t = times[j]
        if abs(t - at) > window:
            continue
        burst = _in_burst(times, j, window, rules.burst_min_clicks)
        _set_flag(state, i, BURST, burst, rules, newest, new)


def _set_flag(
    state: LeadState,
    i: int,
    flag: int,
    on: bool,
    rules: EngagementRules,
    newest: int | None,
    new: int | None,
) -> None:
    """Set or clear a re-judged flag of record `i`, moving its weight in the tally with it
    (the record `new`, being added, is not yet tallied)."""
    log = state.records
    flags = log.flags[i]
    if bool(flags & flag) == on:
        return
    changed = flags | flag if on else flags & ~flag
    if log.event[i] == new:
        log.flags[i] = changed
        return
    _count(state, log[i], rules, newest, -1)
    log.flags[i] = changed
    _count(state, log[i], rules, newest, +1)


def _in_burst(times: list[int], j: int, window: float, min_clicks: int) -> bool:
    """At least `min_clicks` of the (sorted) `times` within `window` of times[j]."""
    t = times[j]
    return bisect_right(times, t + window) - bisect_left(times, t - window) >= min_clicks


def _mark_all_bursts(log: RecordLog, rules: EngagementRules) -> None:
    """Set every click's BURST flag from scratch (grouped by message, in time order)."""
    by_message: dict[int, list[int]] = {}
    for i in range(len(log)):
        log.flags[i] &= ~BURST
        if log.kind[i] == CLICK and log.message[i]:
            by_message.setdefault(log.message[i], []).append(i)
    window = rules.burst_window_us
    for indexes in by_message.values():
        if len(indexes) < rules.burst_min_clicks:
            continue
        times = [log.at[i] for i in indexes]
        for j, i in enumerate(indexes):
            if _in_burst(times, j, window, rules.burst_min_clicks):
                log.flags[i] |= BURST


def _rejudge_repeats(
    state: LeadState, at: int, page: int, rules: EngagementRules, new: int | None = None
) -> None:
    """REPEAT status of the views of `page` (in its session) after a view added or evicted
    at `at`: a view repeats when another view of it came before, within the window. Only
    the views within one window after `at` can change (and the new view itself)."""
    log = state.records
    window = rules.repeat_window_us
    near = [i for i in log.between(at - window, at + window) if _is_view_of(log, i, page)]
    newest = log.newest_at()
    for j, i in enumerate(near):
        if log.at[i] < at:
            continue
        repeat = j > 0 and log.at[near[j - 1]] >= log.at[i] - window
        _set_flag(state, i, REPEAT, repeat, rules, newest, new)


def _is_view_of(log: RecordLog, i: int, page: int) -> bool:
    return log.message[i] == page and log.kind[i] in PAGE_CODES


def _mark_all_repeats(log: RecordLog, rules: EngagementRules) -> None:
    """Set every page view's REPEAT flag from scratch (grouped by page, in time order)."""
    last_seen: dict[int, int] = {}
    window = rules.repeat_window_us
    for i in range(len(log)):
        if log.kind[i] not in PAGE_CODES:
            continue
        page, at = log.message[i], log.at[i]
        before = last_seen.get(page)
        if before is not None and before >= at - window:
            log.flags[i] |= REPEAT
        else:
            log.flags[i] &= ~REPEAT
        last_seen[page] = at

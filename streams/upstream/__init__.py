"""Where leadscore changes Faust's and aiokafka's behaviour (faust-streaming 0.15.3,
aiokafka 0.14.0): every override of their internals lives in this package, and only here.

One entry per override: what upstream does, why leadscore needs otherwise, and the test
that pins the upstream behaviour. When that test fails, upstream has changed and the
override may be able to go. Each entry is worded so that it could be filed upstream as an
issue; the modules' docstrings, and docs/delivery.md section 9, tell the longer story.

Nothing is re-exported here: import from the modules. The package imports nothing from
streams/app (tests/test_upstream.py checks it): the worker (streams/app/worker.py) hands
in what is its own, the API tokens' middleware (`LeadscoreApp.web_middlewares`) and the
log filter (`LeadscoreWorker(on_root_logger=...)`).

buffer.py: Faust's ProducerBuffer (DrainingBuffer)
- `ProducerBuffer.flush` gives up early. Before an offset commit Faust flushes its
  producer buffer, but the flush returns as soon as one hand-over to aiokafka takes over
  0.1 s (a full batch), so the commit overtakes buffered changelog and output messages,
  and a worker killed then loses events whose offsets are committed. `flush` waits for
  every message buffered before the call. Pinned by tests/test_producer_buffer.py:
  test_stock_buffer_flush_gives_up_early.
- Under exactly_once, buffered messages are not sent in the transaction of their input.
  `Topic.publish_message` sends without a transactional id (the plain producer), and the
  TransactionManager's `send` picks the transaction of the message's destination partition;
  outputs and changelog writes do not commit with their input's offset. Each is sent
  through the transactional producer of its input's partition (`source_of`,
  `_send_in_transaction`), named as Faust's commit names it. Pinned by
  tests/test_producer_buffer.py: test_faust_publishes_buffered_messages_outside_transactions,
  test_faust_transaction_manager_sends_by_destination_partition,
  test_transactional_ids_are_named_as_faust_commits_them.
- The buffer holds 100 messages. Under exactly_once it holds newer events' messages while a
  commit runs, and the agent would stop at every commit: TRANSACTIONAL_BUFFER_MESSAGES.
  Pinned by tests/test_producer_buffer.py: test_faust_buffers_a_hundred_messages.

transactions.py: Faust's TransactionManager (FlushingTransactionManager)
- `TransactionManager.commit` neither hands the producer buffer over nor commits the
  transactions at once: buffered messages of committed events would join the next
  transaction, and newer events' messages would join this one; each transaction costs a few
  coordinator round trips in turn. `commit` hands the buffer over up to the committed
  events and commits every transaction concurrently (skipping one Faust has ended).
  Pinned by tests/test_producer_buffer.py:
  test_faust_commits_transactions_without_the_buffer_one_at_a_time.
- In a rebalance Faust drops the revoked partitions' acks, then commits as its streams
  finish: a transaction is committed with some of its partitions' offsets only, and the
  other partitions' events are replayed and published twice. A commit covers every event
  whose messages it holds (`DrainingBuffer.covering`). Pinned by
  tests/test_producer_buffer.py: test_faust_forgets_revoked_acks_then_commits_as_its_streams_finish.
- aiokafka's `commit_transaction` sends EndTxn with batches still queued or in flight (the
  Java producer flushes first): a retried batch can land after the commit marker. Each
  transaction's producer is flushed first. Pinned by tests/test_producer_buffer.py:
  test_aiokafka_commits_a_transaction_without_flushing.
- Faust leaves transactions open across a rebalance, then replays each partition from its
  committed offset: a replayed event's outputs commit twice, and a revoked partition's open
  transaction holds its changelog's stable end back from the next owner's recovery. The
  open transactions are aborted first. Pinned by tests/test_producer_buffer.py:
  test_faust_leaves_transactions_open_across_a_rebalance.

consumer.py: Faust's aiokafka consumer and its thread (StableEndsConsumer, StableEndsThread)
- Under exactly_once, recovery takes a changelog's end from aiokafka's
  `last_stable_offset`, unknown before a fetch returns (an empty table is "recovered"), and
  then waits 10 s for the commit marker it is never handed. The end is asked of the broker
  and read back to the last data record. Pinned by tests/test_producer_buffer.py:
  test_faust_recovers_under_transactions_to_a_cached_stable_offset.
- aiokafka's `seek_to_committed` leaves a partition without a committed offset where its
  last fetch left it, past records Faust fetched and dropped. Such stream partitions are
  sought to their start. Pinned by tests/test_producer_buffer.py:
  test_aiokafka_seeks_only_to_committed_offsets_above_zero (and, on a broker,
  test_a_fetched_partition_without_a_committed_offset_is_read_again).
- Faust hands aiokafka its live set of active partitions, which changes during the fetch,
  and aiokafka reads an empty set as every partition. The fetch gets a copy, and nothing is
  fetched when none is active. Pinned by tests/test_producer_buffer.py:
  test_faust_hands_aiokafka_its_live_set_of_active_partitions.
- At the end of a recovery Faust resumes the stream partitions before it seeks them to
  their committed offsets, and the flow's resume empties the streams' queues: events are
  handled from the old positions or dropped and committed past. Stream partitions resume
  only with the flow after the recovery's seek. Pinned by tests/test_producer_buffer.py:
  test_faust_resumes_stream_partitions_before_their_seek_and_empties_queues.

handover.py: mode's Service.wait_first on Faust's consumer (InPlaceHandover)
- Faust's fetcher hands each message to its streams with `wait_first(callback(message),
  suspend_flow.wait())`, and mode's `wait_first` starts four tasks (the two, the service's
  stop and its crash) and cancels three, for a hand-over that almost always completes at
  once: a sixth of the worker's CPU per event, a quarter with exactly_once. The hand-over is
  stepped once in place; only one that must wait goes through `wait_first`. Pinned by
  tests/test_handover.py: test_faust_hands_each_fetched_message_over_through_wait_first,
  test_mode_starts_four_tasks_per_hand_over.

tables.py: faust.Table (EventPartitionTable) and Faust's current event (handling)
- A table write asks metadata for its changelog partition: the producer's (partitioner
  mode) or the group's snapshot, which counts a changelog it has not seen as 0 partitions
  and makes the write raise. The partition is the current event's, with no lookup. Pinned
  by tests/test_upstream.py: test_faust_tables_ask_the_group_metadata_on_a_write.
- Faust offers no public way to say which event a table write or send belongs to; a write
  kept for the commit is made while another event, or none, is current. `handling(event)`
  sets the context variable Faust's streams set. Pinned by tests/test_checkpointed_writes.py:
  test_handling_makes_the_event_fausts_current_one.

sensor.py: Faust's PrometheusMonitor (LeanPrometheusMonitor, faust_metrics)
- The Prometheus sensor updates labelled series in its per-message hooks (eight calls per
  event), a tenth of the worker's CPU. Those hooks do only what Faust itself reads: the
  time a stream last took an event, for its stall warnings. Pinned by tests/test_upstream.py:
  test_faust_prometheus_sensor_works_on_every_message,
  test_faust_slow_stream_check_reads_stream_inbound_time.
- The sensor's latency histograms are in milliseconds, where Prometheus's base unit is the
  second. Each is replaced by one in seconds. Pinned by tests/test_upstream.py:
  test_faust_latency_histograms_are_in_milliseconds.

metadata.py: aiokafka's AIOKafkaClient (back_off_failed_metadata_updates)
- A failed metadata update returns at once, and its callers ask again in loops: against an
  unreachable broker about 5,000 attempts a second, a whole core. A failed update waits
  retry_backoff_ms. Pinned by tests/test_kafka_backoff.py:
  test_aiokafka_retries_a_failed_metadata_update_at_once.

web.py: Faust's aiohttp Web (LeadscoreWeb)
- With every `web_*_enabled` setting off, Faust's web still serves a built-in page, its
  index at "/". The built-in blueprint lists are emptied, and the app's middlewares go
  before every view. Pinned by tests/test_upstream.py:
  test_faust_web_serves_its_index_with_every_page_setting_off.

app.py: faust.App (LeadscoreApp)
- Faust builds the HTTP client its router forwards requests with as `conf.HttpClient()`,
  with no TLS context: peers serving HTTPS with a private CA are not trusted. The client is
  built with the peers' CA. Pinned by tests/test_upstream.py:
  test_faust_builds_its_http_client_without_arguments.
- Faust's factories (`_new_web`, `_new_producer`, `_new_transport`) are where the overrides
  above are installed. Pinned by tests/test_producer_buffer.py:
  test_the_worker_app_uses_them_under_exactly_once,
  test_stream_partitions_resume_only_once_sought; tests/test_upstream.py:
  test_the_worker_web_has_no_builtin_pages_and_checks_tokens.

worker.py: faust.Worker (LeadscoreWorker)
- Faust gives the root logger it sets up to `on_setup_root_logger` (for its spinner), the
  one hook on it; aiokafka and Faust log some lines thousands of times a second. The hook
  also hands it to the worker's filter of repeated lines. Pinned by tests/test_upstream.py:
  test_faust_worker_hands_its_root_logger_to_on_setup_root_logger.
"""

"""Benchmarks: leadscore against the raw Kafka client limit on the same broker."""

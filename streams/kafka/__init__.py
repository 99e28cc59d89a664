"""Kafka plumbing: contract topics, client settings, admin helpers, a local broker."""

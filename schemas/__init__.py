"""Pydantic models of every message on leadscore's topics (the wire contract)."""

"""Fault injection against real worker processes and a broker of the suite's own."""

"""leadscore: real-time lead scoring on Kafka with Faust."""

__version__ = "0.1.0"

"""Kafka clients built on kafka-python: topic administration and the producer every writer uses."""

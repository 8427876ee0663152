"""Opinion Radar: storage (Redis aggregates, SQL models and migrations, the outbox)."""

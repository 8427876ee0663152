"""The HTTP API: ingest, alert and series queries, dashboard page, /metrics, /healthz."""

"""Webhook delivery: Standard Webhooks signing, payload formats, the outbox dispatcher, the CLI."""

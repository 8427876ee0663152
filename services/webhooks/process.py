"""The dispatcher process: deliver the webhook outbox until SIGTERM, SIGHUP or Ctrl-C, which finish the round in
flight;
with ``RADAR_RETENTION_DAYS`` > 0 it also prunes old rollups and finished deliveries once an hour
(:mod:`services.webhooks.housekeeping`); with ``RADAR_ALERTMANAGER_URL`` it pushes the alerts to that
Alertmanager (:mod:`services.webhooks.alertmanager_push`)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from core.settings import Settings

__all__ = ["run_dispatcher"]


def run_dispatcher(
    settings: Settings, *, concurrency: int, timeout_s: float, say: Callable[[str], object] = print
) -> None:
    """Run the dispatcher (blocks); metrics on RADAR_DISPATCHER_METRICS_PORT when it is set."""
    from prometheus_client import start_http_server

    from services.webhooks.dispatcher import Dispatcher
    from services.webhooks.housekeeping import Pruner
    from storage.db import make_engine, make_sessionmaker
    from storage.secret_box import SecretBox

    sessions = make_sessionmaker(make_engine(settings.database_url))  # checked (never migrated) by the first round

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        dispatcher = Dispatcher(
            sessions,
            concurrency=concurrency,
            timeout_s=timeout_s,
            allow_private=settings.webhook_allow_private,
            external_url=settings.api_public_url,
            secrets=SecretBox.of(settings.secrets_keys.get_secret_value() if settings.secrets_keys else None),
        )
        pruner = Pruner(sessions, retention_days=settings.retention_days)
        days = settings.retention_days
        say(f"dispatcher running{f', pruning hourly what is over {days:g} days old' if days else ''} (Ctrl-C to stop)")
        tasks = [dispatcher.run_forever(stop), pruner.run_forever(stop)]
        pusher = None
        if settings.alertmanager_url:
            from services.webhooks.alertmanager_push import AlertmanagerPusher

            pusher = AlertmanagerPusher(
                sessions,
                settings.alertmanager_url,
                resend_s=settings.alertmanager_resend_s,
                resolved_for_s=settings.alertmanager_resolved_for_s,
                external_url=settings.api_public_url,
            )
            tasks.append(pusher.run_forever(stop))
            say(
                f"pushing alerts to Alertmanager at {settings.alertmanager_url}"
                f" every {settings.alertmanager_resend_s:g} s"
            )
        try:
            await asyncio.gather(*tasks)
        finally:
            await dispatcher.close()
            if pusher is not None:
                await pusher.close()

    if settings.dispatcher_metrics_port:
        start_http_server(settings.dispatcher_metrics_port, addr=settings.metrics_host)
    asyncio.run(main())

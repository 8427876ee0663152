"""The SQL people copy from docs/sql.md and the Grafana dashboard really runs on the migrated PostgreSQL schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sqlalchemy as sa

from storage.alerts_repo import record_minute
from storage.db import make_engine, make_sessionmaker
from stream.closer import Rollup
from stream.detectors import MinuteStats
from tests.integration.test_alert_store import MINUTE, _alert

ROOT = Path(__file__).resolve().parents[2]


def _grafana_sql() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/opinion-radar.json").read_text())
    queries = [t["rawSql"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [a["target"]["rawSql"] for a in dashboard["annotations"]["list"]]  # alerts marked on every panel
    queries += [v["query"] for v in dashboard["templating"]["list"]]
    return [
        re.sub(r"\$__timeFilter\((\w+)\)", r"\1 > now() - interval '30 days'", q).replace("$entity", "'ACME'")
        for q in queries
    ]


def test_docs_and_grafana_queries_run(postgres_url: str) -> None:
    """On PostgreSQL only: these recipes are written for it, as production runs it."""
    engine = make_engine(postgres_url)
    with make_sessionmaker(engine).begin() as session:
        record_minute(
            session,
            alerts=[_alert("ACME", "volume_spike")],
            rollups=[Rollup("ACME", MINUTE, MinuteStats(5, 1, 2, 2, 0.5, 1.0))],
        )
    docs = re.findall(r"```sql\n(.*?)```", (ROOT / "docs/sql.md").read_text(), re.S)
    assert len(docs) >= 6
    with engine.connect() as conn:
        for query in [*docs, *_grafana_sql()]:
            conn.execute(sa.text(query.replace(":", r"\:"))).all()
    engine.dispose()

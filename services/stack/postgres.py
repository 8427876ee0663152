"""PostgreSQL from Debian's packages, as a private cluster in ``var/postgres`` (never the system cluster).

PostgreSQL refuses to run as root, so when the stack runs as root the cluster belongs to the ``postgres`` user
that Debian's package creates. The role and database of ``RADAR_POSTGRES_URL`` are created on first start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from services.errors import StackError
from services.stack.base import LocalService, apt_install

__all__ = ["PostgresService"]


def _bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return candidates[-1].parent if candidates else None


class PostgresService(LocalService):
    name = "postgres"
    start_timeout_s = 60.0
    stop_signal = signal.SIGINT  # "fast shutdown": clients are disconnected, the cluster closes cleanly

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    def run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def install(self) -> None:
        if _bin_dir() is None:
            apt_install("postgresql")

    def _bin(self, tool: str) -> str:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise StackError(self.name, "PostgreSQL binaries not found under /usr/lib/postgresql")
        return str(bin_dir / tool)

    def _as_owner(self, argv: list[str]) -> list[str]:
        user = self.run_as()
        return ["runuser", "-u", user, "--", *argv] if user else argv

    def prepare(self) -> None:
        for path in (self.home, self.data_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        user = self.run_as()
        if user:
            for path in (self.home, self.data_dir, self.socket_dir):
                shutil.chown(path, user, user)
            self.data_dir.chmod(0o700)
        if (self.data_dir / "PG_VERSION").exists():
            return
        argv = self._as_owner([
            self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256",
        ])  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(self.name, "initdb failed", result.stdout[-2000:] + result.stderr[-2000:])

    def argv(self) -> list[str]:
        return [
            self._bin("postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.settings.postgres_port),
            "-k", str(self.socket_dir),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=200",
        ]  # fmt: skip

    def start_probe(self) -> bool:
        argv = [self._bin("pg_isready"), "-h", str(self.socket_dir), "-p", str(self.settings.postgres_port)]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0

    def probe(self) -> bool:
        engine = sa.create_engine(self.settings.postgres_url, connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()

    def after_ready(self) -> None:
        url = urlsplit(self.settings.postgres_url)
        user, password = unquote(url.username or "radar"), unquote(url.password or "")
        database = url.path.lstrip("/") or "radar"
        if not _identifier_ok(user) or not _identifier_ok(database):
            raise StackError(self.name, f"role/database names must be simple identifiers: {user!r}, {database!r}")
        quoted_pw = password.replace("'", "''")
        sql = (
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
            f"CREATE ROLE {user} LOGIN PASSWORD '{quoted_pw}' CREATEDB; END IF; END $$;"
        )
        self._psql(sql)
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'").strip()
        if exists != "1":
            self._psql(f"CREATE DATABASE {database} OWNER {user}")

    def _psql(self, sql: str) -> str:
        argv = [
            self._bin("psql"), "-h", str(self.socket_dir), "-p", str(self.settings.postgres_port),
            "-U", "postgres", "-d", "postgres", "-tAq", "-v", "ON_ERROR_STOP=1", "-c", sql,
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(self.name, f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def _safe_url(self) -> str:
        url = urlsplit(self.settings.postgres_url)
        return url._replace(netloc=f"{url.username}:***@{url.hostname}:{url.port}").geturl()

    def detail(self) -> str:
        return self._safe_url()


def _identifier_ok(name: str) -> bool:
    return name.replace("_", "").isalnum() and not name[0].isdigit()

"""PostgreSQL from Debian's packages, as a private cluster in ``var/postgres`` (never the system cluster).

PostgreSQL refuses to run as root, so when the stack runs as root the cluster belongs to the ``postgres`` user
that Debian's package creates. The role and database of ``RADAR_POSTGRES_URL`` are created on first start.

Access: TCP on 127.0.0.1 only, every TCP login with a password (scram-sha-256); the Unix socket (in a
directory only the cluster's owner can enter) admits the owner as the ``postgres`` superuser by ``peer``
authentication, and nobody without a password. ``pg_hba.conf`` and ``pg_ident.conf`` belong to the stack and
are rewritten on every start, which is also how a ``var/`` initialised by an older version (``trust`` on the
socket) is migrated in place: its data are kept, its trust is gone, and the role's password is set again from
``RADAR_POSTGRES_URL`` (also repairing a role whose password was stored under md5 or changed in the URL).
The password reaches ``psql`` on its standard input, never in an argument (``ps`` shows every process's
arguments to every user) nor in the server's log (the session turns statement logging off first).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from core.errors import StackError
from localdev.stack.base import LOOPBACK, PRIVATE_ENV_PREFIXES, LocalService, apt_install

__all__ = ["SUPERUSER", "PostgresService", "hba_conf", "ident_conf", "role_sql"]

SUPERUSER = "postgres"
ANALYST_ROLE = "radar_analyst"  # storage/migrations/versions/0006_analyst_role.py
IDENT_MAP = "radar"
HOST_AUTH = "scram-sha-256"


def _bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return candidates[-1].parent if candidates else None


def hba_conf() -> str:
    """Who may connect how: the socket by ``peer`` (through the ident map), TCP from loopback with a password.

    >>> [line.split()[-1] for line in hba_conf().splitlines() if line and not line.startswith("#")]
    ['map=radar', 'scram-sha-256', 'scram-sha-256']
    """
    return (
        "# Written by `radar stack up` on every start (localdev/stack/postgres.py); edits here are lost.\n"
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        f"local   all       all                 peer map={IDENT_MAP}\n"
        f"host    all       all   127.0.0.1/32  {HOST_AUTH}\n"
        f"host    all       all   ::1/128       {HOST_AUTH}\n"
    )


def ident_conf(owner: str) -> str:
    """The cluster's owner may be the superuser on the socket; any other OS user only the role of its own name
    (none exists, so in effect nobody else).

    >>> print(ident_conf("alice"), end="")
    # Written by `radar stack up` on every start (localdev/stack/postgres.py); edits here are lost.
    # MAPNAME  SYSTEM-USERNAME  PG-USERNAME
    radar  alice  postgres
    radar  /^(.*)$  \\1
    """
    if not owner or any(c.isspace() for c in owner):
        raise StackError("postgres", f"unusable owner name {owner!r}")
    return (
        "# Written by `radar stack up` on every start (localdev/stack/postgres.py); edits here are lost.\n"
        "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n"
        f"{IDENT_MAP}  {owner}  {SUPERUSER}\n"
        f"{IDENT_MAP}  /^(.*)$  \\1\n"
    )


def role_sql(user: str, password: str) -> str:
    """The ``psql`` script (read from stdin) that creates the login role if needed and sets its password.

    Statement logging is turned off for the session first, and errors are terse, so neither the server's log
    nor psql's error output quotes the statement that holds the password.

    >>> sql = role_sql("radar", "it's")
    >>> "PASSWORD 'it''s'" in sql and sql.index("log_min_error_statement") < sql.index("PASSWORD")
    True
    """
    if not _identifier_ok(user):
        raise StackError("postgres", f"the role name must be a simple identifier: {user!r}")
    if not password or "\x00" in password:
        raise StackError("postgres", "RADAR_POSTGRES_URL must carry a password (TCP logins use scram-sha-256)")
    quoted = password.replace("'", "''")  # standard_conforming_strings is on: only quotes need doubling
    return (
        "\\set VERBOSITY terse\n"
        "SET log_statement = 'none';\n"
        "SET log_min_error_statement = 'panic';\n"
        "SET log_min_duration_statement = -1;\n"
        f"SET password_encryption = '{HOST_AUTH}';\n"
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
        f"CREATE ROLE {user} LOGIN CREATEDB; END IF; END $$;\n"
        f"ALTER ROLE {user} WITH LOGIN PASSWORD '{quoted}';\n"
        # the analysts' read-only group (migration 0006 grants it the analyst tables and views, nothing else);
        # dashboards log in as a member of it, never as the owner
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ANALYST_ROLE}') THEN "
        f"CREATE ROLE {ANALYST_ROLE} NOLOGIN; END IF; END $$;\n"
    )


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
        return SUPERUSER if os.geteuid() == 0 else None

    def owner(self) -> str:
        """The OS user the cluster runs as (and whom ``peer`` lets in as the superuser)."""
        return self.run_as() or pwd.getpwuid(os.geteuid()).pw_name

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
        self.socket_dir.chmod(0o700)  # the socket: for the owner (and root) only
        if not (self.data_dir / "PG_VERSION").exists():
            argv = self._as_owner(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=peer",
                    f"--auth-host={HOST_AUTH}",
                ]
            )
            result = subprocess.run(argv, capture_output=True, text=True, check=False, env=_clean_env())
            if result.returncode != 0:
                raise StackError(self.name, "initdb failed", result.stdout[-2000:] + result.stderr[-2000:])
        self._write_private(self.data_dir / "pg_hba.conf", hba_conf())
        self._write_private(self.data_dir / "pg_ident.conf", ident_conf(self.owner()))

    def _write_private(self, path: Path, text: str) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        user = self.run_as()
        if user:
            shutil.chown(tmp, user, user)
        tmp.replace(path)

    def argv(self) -> list[str]:
        return [
            self._bin("postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.settings.postgres_port),
            "-k",
            str(self.socket_dir),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"password_encryption={HOST_AUTH}",
            "-c",
            "max_connections=200",
        ]

    def start_probe(self) -> bool:
        argv = [self._bin("pg_isready"), "-h", str(self.socket_dir), "-p", str(self.settings.postgres_port)]
        return subprocess.run(argv, capture_output=True, check=False, env=_clean_env()).returncode == 0

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
        self._psql(role_sql(user, password), secret=password)
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'").strip()
        if exists != "1":
            self._psql(f"CREATE DATABASE {database} OWNER {user}")

    def psql_argv(self) -> list[str]:
        """psql as the superuser over the socket (peer authentication): no password, the SQL comes on stdin."""
        return self._as_owner(
            [
                self._bin("psql"),
                "-X",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.settings.postgres_port),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-tAq",
                "-v",
                "ON_ERROR_STOP=1",
            ]
        )

    def _psql(self, sql: str, secret: str = "") -> str:
        result = subprocess.run(
            self.psql_argv(), input=sql, capture_output=True, text=True, check=False, env=_clean_env()
        )
        if result.returncode != 0:
            error = result.stderr.strip()
            raise StackError(self.name, f"psql failed: {error.replace(secret, '***') if secret else error}")
        return result.stdout

    def _safe_url(self) -> str:
        url = urlsplit(self.settings.postgres_url)
        return url._replace(netloc=f"{url.username}:***@{url.hostname}:{url.port}").geturl()

    def detail(self) -> str:
        return self._safe_url()


def _clean_env() -> dict[str, str]:
    """The tools' environment without the product's secrets and without PG* variables that could redirect them
    (another host, a password file) behind the explicit arguments."""
    return {k: v for k, v in os.environ.items() if not k.startswith((*PRIVATE_ENV_PREFIXES, "PG"))}


def _identifier_ok(name: str) -> bool:
    return bool(name) and name.replace("_", "").isalnum() and name.isascii() and not name[0].isdigit()

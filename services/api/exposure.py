"""``radar api`` refuses to listen beyond loopback while a token is one anybody can read in this repository.

The defaults (``dev-ingest-token``, ``dev-read-token``) are fine on 127.0.0.1, where only this machine can
connect; on 0.0.0.0 they would let anyone who has read the README write events or read alerts. A token shorter
than 24 characters is refused there too: it can be guessed, and the real ones are generated, not typed.
"""

from __future__ import annotations

import ipaddress

from core.settings import Settings

__all__ = ["MIN_TOKEN_CHARS", "exposure_problem", "is_loopback"]

MIN_TOKEN_CHARS = 24
_TOKENS = {"RADAR_API_TOKEN": "api_token", "RADAR_API_READ_TOKEN": "api_read_token"}


def is_loopback(host: str) -> bool:
    """Only this machine can connect to ``host``. A name other than localhost may resolve anywhere: not loopback.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "localhost", "0.0.0.0", "::", "", "api.example")]
    [True, True, True, True, False, False, False, False]
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(host: str, settings: Settings) -> str | None:
    """Why serving on ``host`` with these settings would expose a guessable token (one line), or None. Equal read
    and write tokens are refused on any host: whoever reads dashboards could write."""
    if settings.api_token.get_secret_value() == settings.api_read_token.get_secret_value():
        return "RADAR_API_TOKEN and RADAR_API_READ_TOKEN are the same: a reader could write; give them different values"
    if is_loopback(host):
        return None
    for variable, field in _TOKENS.items():
        value = getattr(settings, field).get_secret_value()
        default = Settings.model_fields[field].default.get_secret_value()
        if value == default:
            problem = f"{variable} is the published default"
        elif len(value) < MIN_TOKEN_CHARS:
            problem = f"{variable} is {len(value)} characters long"
        else:
            continue
        return (
            f"refusing to serve on {host or 'every interface'} (not loopback): {problem}; set {variable} to a "
            f"secret of at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 24`), or serve on 127.0.0.1"
        )
    return None

"""Webhook signing secrets encrypted at rest (Fernet, from ``cryptography``), keys from the environment.

A reader of the database (a dashboard login, a backup, a leaked dump) must not be able to forge signed alerts, so
``webhook_subscriptions.secret`` holds ``fernet:<token>``, sealed with the first key of ``RADAR_SECRETS_KEYS``
(comma-separated Fernet keys, newest first). Every listed key opens, so rotation is: put the new key first, run
``radar webhooks rotate-secrets`` (it re-seals every secret with the new key), then drop the old one. A secret
stored before encryption (no prefix) is read as it is and sealed by the next rotation. Without keys, secrets are
kept in plain text (the local stack and tests); a sealed secret then cannot be opened, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError

__all__ = ["SEALED", "SecretBox", "new_key"]

SEALED = "fernet:"


def new_key() -> str:
    """A fresh key for ``RADAR_SECRETS_KEYS``."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Seal and open stored secrets.

    >>> box = SecretBox([new_key()])
    >>> sealed = box.seal("whsec_abc"); sealed.startswith(SEALED), box.open(sealed)
    (True, 'whsec_abc')
    >>> box.open("whsec_plain"), SecretBox([]).seal("whsec_abc")  # before encryption; no keys: plain
    ('whsec_plain', 'whsec_abc')
    """

    def __init__(self, keys: Sequence[str]) -> None:
        usable = [k.strip() for k in keys if k.strip()]
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in usable]) if usable else None
        except ValueError as exc:
            raise ConfigError(f"RADAR_SECRETS_KEYS holds a key that is not a Fernet key: {exc}") from None

    @classmethod
    def of(cls, keys: str | None) -> SecretBox:
        return cls((keys or "").split(","))

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, plain: str) -> str:
        if self._fernet is None:
            return plain
        return SEALED + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        """The plain secret; ConfigError when it is sealed and no key given opens it."""
        if not stored.startswith(SEALED):
            return stored
        if self._fernet is None:
            raise ConfigError("the webhook secrets are encrypted: set RADAR_SECRETS_KEYS to the key(s) they use")
        try:
            return self._fernet.decrypt(stored[len(SEALED) :].encode()).decode()
        except InvalidToken:
            raise ConfigError("a webhook secret does not open with any key of RADAR_SECRETS_KEYS") from None

    def reseal(self, stored: str) -> str:
        """The secret sealed with the first key (rotation), whatever key or none it was stored with."""
        return self.seal(self.open(stored))

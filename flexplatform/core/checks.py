"""Deployment checks (``manage.py check --deploy``): production refuses the public development secrets.

Anvil's and Hardhat's ten development keys come from a published mnemonic, so anyone can sign with them; the
development ``SECRET_KEY`` is in this repository. Either in production would let anyone anchor as the platform or
forge sessions, password-reset links and signed values.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks


def _normalised(key: str) -> str:
    return (key or "").strip().lower().removeprefix("0x")


def dev_chain_key_in_use(key: str) -> bool:
    """Whether ``key`` is one of the ten well-known anvil/hardhat development keys."""
    return _normalised(key) in {_normalised(k) for k in settings.ANVIL_DEV_PRIVATE_KEYS}


@checks.register(checks.Tags.security, deploy=True)
def check_development_secrets(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    if dev_chain_key_in_use(getattr(settings, "CHAIN_PRIVATE_KEY", "")):
        errors.append(
            checks.Error(
                "CHAIN_PRIVATE_KEY is one of anvil's public development keys.",
                hint="Set CHAIN_PRIVATE_KEY to the platform's own anchoring key.",
                id="flexplatform.E001",
            )
        )
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(
            checks.Error(
                "SECRET_KEY is the development secret key from the repository.",
                hint="Set DJANGO_SECRET_KEY to a long random value.",
                id="flexplatform.E002",
            )
        )
    return errors

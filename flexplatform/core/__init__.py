"""The platform core's own tables (today: the stored first responses of ``Idempotency-Key`` POSTs).

Core sits below every app (``docs/adr``: layers): it imports no app, and its model refers to the user only through
``settings.AUTH_USER_MODEL``."""

"""Content-Security-Policy on every response (Django 5.2 has no built-in CSP).

Scripts run only from our own origin or, for the few small page scripts kept in templates, with the response's
nonce (``{{ request.csp_nonce }}``, a fresh random value per request): an injected ``<script>`` or inline event
handler does not run. No plugins, no framing by other sites, forms post only to us. Styles allow inline
``style`` attributes (no script can run from CSS). The API browsers (``/api/docs/``, ``/api/redoc/``) load Swagger UI
and ReDoc from our own static files (drf-spectacular-sidecar): no third-party origin on any page. ReDoc builds its
workers from ``blob:`` URLs. ``CSP_REPORT_ONLY`` sends the policy as report-only (for trying a
change on a live site). Source: W3C Content Security Policy Level 3; OWASP CSP cheat sheet.
"""

from __future__ import annotations

import secrets

from django.conf import settings

HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"
API_DOCS_PREFIX = "/api/docs/"
API_REDOC_PREFIX = "/api/redoc/"


def policy(nonce: str, *, path: str = "") -> str:
    """The policy for one response (``nonce`` for its inline scripts)."""
    script = ["'self'", f"'nonce-{nonce}'"]
    style = ["'self'", "'unsafe-inline'"]
    img = ["'self'", "data:"]
    worker = ["'self'", "blob:"] if path.startswith(API_REDOC_PREFIX) else ["'self'"]
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        "style-src": style,
        "img-src": img,
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "worker-src": worker,
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        header = REPORT_ONLY_HEADER if settings.CSP_REPORT_ONLY else HEADER
        if header not in response:
            response[header] = policy(request.csp_nonce, path=request.path)
        return response

"""Outgoing HTTP to addresses our users give us (activation webhooks, OpenADR subscriptions' ``callbackUrl``):
never to the platform's own network.

A callback URL is refused when its host is, or resolves to, an address that is not globally routable: private
(RFC 1918, unique-local ``fc00::/7``), loopback, link-local (``169.254.0.0/16``, which holds the cloud metadata
service at 169.254.169.254, and ``fe80::/10``), shared (``100.64.0.0/10``), reserved, multicast or unspecified,
including an IPv4 address mapped into IPv6. The check runs at registration (:func:`url_check`) and again at send
time on the address actually connected to (:func:`post`): a name that resolved to a public address at
registration and to 127.0.0.1 later (DNS rebinding) is refused, and redirects are never followed. Hosts or
networks named in ``CALLBACK_ALLOWED_HOSTS`` (``host``, ``host:port``, ``.domain`` for its subdomains, an address or a
CIDR network) are allowed:
the tests' and the demo's local receivers. Source: OWASP Server-Side Request Forgery Prevention Cheat Sheet.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as urllib3_connection

from flexplatform.errors import ApplicationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(ApplicationError):
    code = "callback_url_refused"


def _allow_list() -> list[str]:
    return [str(e).strip().lower() for e in getattr(settings, "CALLBACK_ALLOWED_HOSTS", []) if str(e).strip()]


def _allowed_by_setting(host: str, port: int, ip: Address | None) -> bool:
    host = host.lower().strip("[]")
    for entry in _allow_list():
        if entry in (host, f"{host}:{port}") or (entry.startswith(".") and host.endswith(entry)):
            return True
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def address_is_public(ip: Address) -> bool:
    """Whether ``ip`` is globally routable and not multicast (an IPv4-mapped IPv6 address by its IPv4 part)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def address_check(host: str, port: int, ip: Address, *, field: str = "url") -> None:
    if address_is_public(ip) or _allowed_by_setting(host, port, ip):
        return
    raise EgressRefused(
        f"Callback addresses must be public: {host} is {ip} (private, loopback, link-local or reserved).",
        fields={field: ["Not a public address."]},
    )


def resolve(host: str, port: int, *, field: str = "url") -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused(f"The host {host} does not resolve.", fields={field: ["Unknown host."]}) from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def url_check(url: str, *, field: str = "url") -> None:
    """Refuse (:class:`EgressRefused`, 400 naming ``field``) a callback URL that is not http(s) or whose host is or
    resolves to a non-public address (unless ``CALLBACK_ALLOWED_HOSTS`` names it).

    A name that does not resolve at registration is accepted (DNS may be down, or the receiver not live yet): every
    send resolves it again and connects only to a checked public address, so it can never reach a private one."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise EgressRefused("Not a valid URL.", fields={field: ["Not a valid URL."]}) from exc
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise EgressRefused("Callback URLs are http(s) URLs with a host.", fields={field: ["Not an http(s) URL."]})
    if _allowed_by_setting(host, port, None):
        return
    try:
        addresses = resolve(host, port, field=field)
    except EgressRefused:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name that does not resolve now: checked again at every send
        raise
    for ip in addresses:
        address_check(host, port, ip, field=field)


def _checked_connection(conn) -> socket.socket:
    """Resolve the host, refuse it unless every address is allowed, and connect to a checked address."""
    host, port = conn._dns_host, conn.port
    addresses = resolve(host, port)
    for ip in addresses:
        address_check(host, port, ip)
    return urllib3_connection.create_connection(
        (str(addresses[0]), port), conn.timeout, source_address=conn.source_address, socket_options=conn.socket_options
    )


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_connection(self)


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_connection(self)


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def session() -> requests.Session:
    """A requests session whose connections go only to checked addresses; no proxies from the environment."""
    s = requests.Session()
    s.trust_env = False
    adapter = _CheckedAdapter()
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def post(url: str, **kwargs) -> requests.Response:
    """POST to a callback URL: the URL checked, the address checked again at connection time, no redirects.
    Raises :class:`EgressRefused` for a refused address and ``requests.RequestException`` for a failed send."""
    url_check(url)
    with session() as s:
        return s.post(url, allow_redirects=False, **kwargs)

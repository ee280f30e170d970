"""Believe ``X-Forwarded-For`` / ``X-Forwarded-Proto`` only from the reverse proxies in ``TRUSTED_PROXIES``.

A request whose peer is not a trusted proxy keeps its own address and scheme, whatever
headers it sends, so nobody can pick the address the sign-in throttle counts. From a
trusted proxy, Werkzeug's ``ProxyFix`` takes the client from ``X-Forwarded-For``, one hop
for each trusted proxy the request passed (walked from the right: the first untrusted
address is the client), and the scheme from ``X-Forwarded-Proto``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

from runtime.config import ProxyNetwork

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MAX_HOPS = 5


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from ``networks``, the bare app for everyone else."""

    def __init__(self, app: WSGIApplication, networks: Iterable[ProxyNetwork]) -> None:
        self.app = app
        self.networks = tuple(networks)
        self._fixes = {hops: ProxyFix(app, x_for=hops, x_proto=1) for hops in range(1, MAX_HOPS + 1)}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        for key in ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX"):
            environ.pop(key, None)  # never believed, from anyone
        hops = self.hops(environ)
        if hops == 0:
            environ.pop("HTTP_X_FORWARDED_FOR", None)
            environ.pop("HTTP_X_FORWARDED_PROTO", None)
            return self.app(environ, start_response)
        return self._fixes[hops](environ, start_response)

    def hops(self, environ: dict[str, Any]) -> int:
        """How many trusted proxies the request came through (0: the peer itself is not one)."""
        if not self.trusted(environ.get("REMOTE_ADDR")):
            return 0
        chain = [part.strip() for part in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
        hops = 1
        # Each further address that is itself a trusted proxy passed the request on too.
        while hops < min(len(chain), MAX_HOPS) and self.trusted(chain[-hops]):
            hops += 1
        return hops

    def trusted(self, address: object) -> bool:
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

"""The one proxy, if any, that carries requests to the exporter's one endpoint: decided and checked at start-up.

A client made with ``trust_env`` builds a transport for every proxy variable
set, whether or not any request will use it: ``ALL_PROXY=socks5://...``
without ``socksio`` then breaks the client even when ``NO_PROXY`` exempts the
endpoint, and the failure shows only at the first export. The exporter sends
to one URL, so it decides here, by httpx's own rules, which proxy that URL
takes, refuses at start-up one the installed httpx cannot use (naming the
variable, never the URL, which may hold a password), and gives httpx exactly
that proxy and no other: what is checked is what is used.

httpx's rules (``httpx._utils.get_environment_proxies`` and ``URLPattern``,
httpx 0.27 and 0.28), followed here: the variables are read by
``urllib.request.getproxies()`` (``<scheme>_proxy`` in either case, lower case
winning; upper-case ``HTTP_PROXY`` ignored under CGI; the system's settings on
macOS and Windows when no variable is set); ``http``, ``https`` and ``all``
proxies apply, a proxy without a scheme is ``http://``; every ``NO_PROXY``
entry exempts what it names (``*`` everything, an IP address or ``localhost``
that host, ``a.b`` ``a.b`` and its subdomains, ``.a.b`` its subdomains only,
a ``scheme://host:port`` form exactly that), and the most specific pattern
wins (with a port, then the longest host, then the longest scheme).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import urllib.request
from dataclasses import dataclass, field

import httpx

SYSTEM_SETTINGS = "the system's proxy settings"
"""What a proxy is said to come from when no variable set it (macOS and Windows only)."""
_SCHEMES = ("http", "https", "all")
_USABLE_SCHEMES = ("http", "https", "socks5", "socks5h")
"""What httpx's transport can build a proxy for; SOCKS also needs ``socksio``."""


@dataclass(frozen=True)
class ChosenProxy:
    """The proxy for the endpoint, and where it was set. The URL may hold credentials: it never shows in a repr."""

    variable: str
    url: str = field(repr=False)


@dataclass(frozen=True)
class _Pattern:
    """One of httpx's ``URLPattern``s: a scheme, host and port a URL must match (empty matches any)."""

    scheme: str
    host: str
    port: int | None
    host_regex: re.Pattern[str] | None

    @classmethod
    def parse(cls, pattern: str) -> _Pattern:
        url = httpx.URL(pattern)
        host = "" if url.host == "*" else url.host
        if not url.host or url.host == "*":
            regex = None
        elif url.host.startswith("*."):
            regex = re.compile(f"^.+\\.{re.escape(url.host[2:])}$")
        elif url.host.startswith("*"):
            regex = re.compile(f"^(.+\\.)?{re.escape(url.host[1:])}$")
        else:
            regex = re.compile(f"^{re.escape(url.host)}$")
        return cls("" if url.scheme == "all" else url.scheme, host, url.port, regex)

    def matches(self, url: httpx.URL) -> bool:
        if self.scheme and self.scheme != url.scheme:
            return False
        if self.host and self.host_regex is not None and not self.host_regex.match(url.host):
            return False
        return self.port is None or self.port == url.port

    @property
    def priority(self) -> tuple[int, int, int]:
        return (0 if self.port is not None else 1, -len(self.host), -len(self.scheme))


def _variables() -> dict[str, tuple[str, str]]:
    """scheme -> (the variable as spelled, its value), read as ``urllib.request.getproxies_environment`` reads them."""
    found: dict[str, tuple[str, str]] = {}
    for name, value in os.environ.items():
        if value and name[-6:].lower() == "_proxy":
            found[name[:-6].lower()] = (name, value)
    if "REQUEST_METHOD" in os.environ:  # CGI: HTTP_PROXY may come from a client's "Proxy:" header (httpoxy)
        found.pop("http", None)
    for name, value in os.environ.items():
        if name[-6:] == "_proxy":
            if value:
                found[name[:-6].lower()] = (name, value)
            else:
                found.pop(name[:-6].lower(), None)
    if not found:  # macOS and Windows: the system's settings, as urllib.request.getproxies() falls back to
        found = {scheme: (SYSTEM_SETTINGS, value) for scheme, value in urllib.request.getproxies().items()}
    return found


def _exemptions(no_proxy: str) -> list[str] | None:
    """httpx's patterns for the ``NO_PROXY`` entries; None when ``*`` turns every proxy off."""
    patterns: list[str] = []
    for entry in (host.strip() for host in no_proxy.split(",")):
        if entry == "*":
            return None
        if not entry:
            continue
        if "://" in entry:
            patterns.append(entry)
        elif _is_ip(ipaddress.IPv4Address, entry):
            patterns.append(f"all://{entry}")
        elif _is_ip(ipaddress.IPv6Address, entry):
            patterns.append(f"all://[{entry}]")
        elif entry.lower() == "localhost":
            patterns.append(f"all://{entry}")
        else:
            patterns.append(f"all://*{entry}")
    return patterns


def _is_ip(kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address], entry: str) -> bool:
    try:
        kind(entry.split("/")[0])
    except ValueError:
        return False
    return True


def proxy_for(url: str) -> ChosenProxy | None:
    """The proxy httpx would use for ``url`` from the environment, or None; a ValueError if it cannot use it."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:  # a host httpx cannot encode: no request will be made to be proxied, as it says then
        return None
    variables = _variables()
    no_proxy = variables.get("no", ("", ""))[1]
    exempt = _exemptions(no_proxy)
    if exempt is None:
        return None
    candidates: list[tuple[_Pattern, ChosenProxy | None]] = []
    for scheme in _SCHEMES:
        if scheme in variables:
            name, value = variables[scheme]
            candidates.append((_Pattern.parse(f"{scheme}://"), ChosenProxy(name, _with_scheme(value))))
    try:
        candidates += [(_Pattern.parse(pattern), None) for pattern in exempt]
    except httpx.InvalidURL:
        raise ValueError(f"{variables['no'][0]} has an entry that is not a host name, address or URL") from None
    # sorted() is stable: among equal priorities the first added wins, as in httpx's dict of mounts
    for pattern, chosen in sorted(candidates, key=lambda candidate: candidate[0].priority):
        if pattern.matches(target):
            if chosen is not None:
                _check_usable(chosen, target.host)
            return chosen
    return None


def _with_scheme(value: str) -> str:
    return value if "://" in value else f"http://{value}"


def _check_usable(chosen: ChosenProxy, host: str) -> None:
    """What httpx would raise at the first export (with the URL, credentials and all), said now, without them."""
    exempt = f"or add {host} to NO_PROXY if requests to it should not go through a proxy"
    try:
        scheme = httpx.URL(chosen.url).scheme
    except httpx.InvalidURL:
        raise ValueError(f"{chosen.variable} is not a valid proxy URL; fix it, {exempt}") from None
    if scheme not in _USABLE_SCHEMES:
        raise ValueError(
            f"{chosen.variable} names a {scheme}:// proxy, which httpx cannot use; "
            f"give an http://, https:// or socks5:// proxy, {exempt}"
        )
    if scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise ValueError(
            f"{chosen.variable} names a SOCKS proxy ({scheme}://), which needs the socksio package: "
            f"install it (pip install 'httpx[socks]'), {exempt}"
        )

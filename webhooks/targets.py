"""Where webhooks may go: http(s) URLs, and (unless WEBHOOK_ALLOW_PRIVATE_TARGETS) only
hosts whose every address is public, so an endpoint can never make the platform call its own
network (SSRF). Checked when an endpoint is saved and again at each delivery, because DNS
may answer differently later; the delivery then connects to the address it checked.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
URL_MAX = 500


class TargetRefused(Exception):
    """The URL may not receive webhooks; the message says why (in the active language)."""

    def __init__(self, message: str, *, address: str = "") -> None:
        super().__init__(message)
        self.address = address


@dataclass(frozen=True)
class Target:
    url: SplitResult
    host: str  # as in the URL (a name, or an IP literal without brackets)
    port: int
    addresses: list[str]  # what the host resolved to, in the resolver's order

    @property
    def https(self) -> bool:
        return self.url.scheme == "https"

    @property
    def path(self) -> str:
        path = self.url.path or "/"
        return f"{path}?{self.url.query}" if self.url.query else path

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.https else 80
        return host if self.port == default else f"{host}:{self.port}"


def private_targets_allowed() -> bool:
    return bool(settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)


def address_is_public(address: IPAddress) -> bool:
    """Not loopback, private, link-local, reserved, multicast, unspecified, or any other
    range IANA marks as not globally reachable (an IPv4-mapped IPv6 address counts as the
    IPv4 address it carries)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def url_parse(url: str) -> tuple[SplitResult, str, int]:
    """The URL's parts, host and port; TargetRefused when it is not a URL webhooks can use."""
    if len(url) > URL_MAX:
        raise TargetRefused(_("The URL is longer than %(n)d characters.") % {"n": URL_MAX})
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused(_("This is not a valid URL.")) from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(_("Only http:// and https:// URLs can receive webhooks."))
    if not parts.hostname:
        raise TargetRefused(_("The URL has no host."))
    if parts.username or parts.password:
        raise TargetRefused(
            _(
                "Do not put a user name or password in the URL: receivers check the "
                "signature instead."
            )
        )
    if parts.fragment:
        raise TargetRefused(_("The URL may not have a #fragment."))
    return parts, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(
            _("The host %(host)s could not be resolved.") % {"host": host}
        ) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refuse_private(addresses: list[str]) -> None:
    for address in addresses:
        if not address_is_public(ipaddress.ip_address(address.split("%", 1)[0])):
            raise TargetRefused(
                _(
                    "The host resolves to %(address)s, an address on a private, local or "
                    "reserved network: webhooks only go to public addresses."
                )
                % {"address": address},
                address=address,
            )


def url_check(url: str) -> None:
    """For saving an endpoint: the URL's form and, unless private targets are allowed,
    that its host is public (an IP literal is checked as is, a name is resolved)."""
    _parts, host, port = url_parse(url)
    if private_targets_allowed():
        return
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        _refuse_private(_resolve(host, port))
    else:
        _refuse_private([str(literal)])


def target_resolve(url: str) -> Target:
    """For a delivery: resolve the host now and check every address it has (unless private
    targets are allowed); the request then goes to the first of them."""
    parts, host, port = url_parse(url)
    addresses = _resolve(host, port)
    if not private_targets_allowed():
        _refuse_private(addresses)
    return Target(url=parts, host=host, port=port, addresses=addresses)

"""Per-request context read by audit: the request id and the client's address.

`request_client_address(request)` is the one rule for the client's address (audit rows, lockouts, sign-in
events): ``REMOTE_ADDR``, or — while the hop we see is one of ``TRUSTED_PROXIES`` (environment:
``FENGQIAO_TRUSTED_PROXIES``) — the next address from the right of ``X-Forwarded-For``.
"""

import contextvars
import getpass
import ipaddress
import uuid

from django.conf import settings

_request_id = contextvars.ContextVar("fengqiao_request_id", default="")
_client_address = contextvars.ContextVar("fengqiao_client_address", default="")


def current_request_id():
    return _request_id.get()


def set_request_id(value=None):
    return _request_id.set(value or uuid.uuid4().hex)


def reset_request_id(token):
    _request_id.reset(token)


def current_client_address():
    return _client_address.get()


def set_client_address(value):
    return _client_address.set(value or "")


def reset_client_address(token):
    _client_address.reset(token)


def _address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def trusted_networks():
    """TRUSTED_PROXIES: addresses or networks (a list, or one comma-separated string) of the reverse proxies whose
    X-Forwarded-For we believe. Empty by default: only REMOTE_ADDR counts."""
    value = getattr(settings, "TRUSTED_PROXIES", ())
    if isinstance(value, str):
        value = value.split(",")
    return [ipaddress.ip_network(item.strip(), strict=False) for item in value if item.strip()]


def client_address(meta, trusted=None):
    """The client's address from a request's META: REMOTE_ADDR, or — while the hop we see is a trusted proxy — the
    next address from the right of X-Forwarded-For. Returns "" when REMOTE_ADDR is not an IP address."""
    trusted = trusted_networks() if trusted is None else trusted
    current = _address(meta.get("REMOTE_ADDR", ""))
    if current is None:
        return ""
    hops = [h for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    while hops and any(current in network for network in trusted):
        previous = _address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)


def request_client_address(request):
    """The client's address of `request` (an HttpRequest or a DRF Request; None gives "")."""
    if request is None:
        return ""
    return client_address(getattr(request, "META", {}))


def cli_actor():
    """The audit actor of a command run from a shell: ``cli:<login name>`` (``cli`` when the system has none)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"

import ipaddress

from django.conf import settings

from fengqiao.core.context import reset_client_address, reset_request_id, set_client_address, set_request_id


def _address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted_networks():
    """FENGQIAO_TRUSTED_PROXIES: addresses or networks (a list, or one comma-separated string) of the reverse
    proxies whose X-Forwarded-For we believe. Empty by default: only REMOTE_ADDR counts."""
    value = getattr(settings, "FENGQIAO_TRUSTED_PROXIES", ())
    if isinstance(value, str):
        value = value.split(",")
    networks = []
    for item in value:
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return networks


def client_address(meta, trusted=None):
    """The client's address: REMOTE_ADDR, or — while the hop we see is a trusted proxy — the next address from
    the right of X-Forwarded-For. Returns "" when REMOTE_ADDR is not an IP address."""
    trusted = _trusted_networks() if trusted is None else trusted
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


class RequestContextMiddleware:
    """Give every request an id (from X-Request-ID when a proxy set one) and note the client's address, so audit
    rows can be correlated and traced."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")[:64]
        token = set_request_id(incoming if incoming.isprintable() else None)
        address_token = set_client_address(client_address(request.META))
        try:
            response = self.get_response(request)
        finally:
            reset_client_address(address_token)
            reset_request_id(token)
        return response

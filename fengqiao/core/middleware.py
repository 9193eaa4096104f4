from fengqiao.core.context import (
    request_client_address,
    reset_client_address,
    reset_request_id,
    set_client_address,
    set_request_id,
)


class RequestContextMiddleware:
    """Give every request an id (from X-Request-ID when a proxy set one) and note the client's address, so audit
    rows can be correlated and traced."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")[:64]
        token = set_request_id(incoming if incoming.isprintable() else None)
        address_token = set_client_address(request_client_address(request))
        try:
            response = self.get_response(request)
        finally:
            reset_client_address(address_token)
            reset_request_id(token)
        return response

from fengqiao.core.context import reset_request_id, set_request_id


class RequestContextMiddleware:
    """Give every request an id (from X-Request-ID when a proxy set one) so audit rows can be correlated."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")[:64]
        token = set_request_id(incoming if incoming.isprintable() else None)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        return response

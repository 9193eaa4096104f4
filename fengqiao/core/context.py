"""Per-request context read by audit: the request id and the client's address."""

import contextvars
import uuid

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

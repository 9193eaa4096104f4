"""Per-request context: who is acting and under which request id (read by audit)."""

import contextvars
import uuid

_request_id = contextvars.ContextVar("fengqiao_request_id", default="")


def current_request_id():
    return _request_id.get()


def set_request_id(value=None):
    return _request_id.set(value or uuid.uuid4().hex)


def reset_request_id(token):
    _request_id.reset(token)

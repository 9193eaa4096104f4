"""The request context: request id and client address, set per request by the middleware and reset after it."""

import ipaddress

from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from fengqiao.core.context import client_address, current_client_address, current_request_id
from fengqiao.core.middleware import RequestContextMiddleware

PROXY = [ipaddress.ip_network("10.0.0.0/8")]


def test_the_client_address_is_remote_addr_unless_it_is_a_trusted_proxy():
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.5"}
    assert client_address(meta, trusted=[]) == "10.0.0.2"
    assert client_address(meta, trusted=PROXY) == "203.0.113.5"  # the nearest hop the proxy saw, not the spoofable left
    chained = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.5, 10.0.0.9"}
    assert client_address(chained, trusted=PROXY) == "203.0.113.5"
    assert client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "junk"}, trusted=PROXY) == "10.0.0.2"
    assert client_address({"REMOTE_ADDR": "not an address"}, trusted=[]) == ""
    assert client_address({"REMOTE_ADDR": "2001:db8::1"}, trusted=PROXY) == "2001:db8::1"


def test_the_middleware_sets_request_id_and_address_for_the_request_only():
    seen = {}

    def view(request):
        seen.update(request_id=current_request_id(), address=current_client_address())
        return HttpResponse()

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="abc", HTTP_X_FORWARDED_FOR="198.51.100.7")
    request.META["REMOTE_ADDR"] = "10.1.2.3"
    RequestContextMiddleware(view)(request)
    assert seen == {"request_id": "abc", "address": "10.1.2.3"}
    with override_settings(TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.1"):
        RequestContextMiddleware(view)(request)
    assert seen["address"] == "198.51.100.7"
    assert (current_request_id(), current_client_address()) == ("", "")

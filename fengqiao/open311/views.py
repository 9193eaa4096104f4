"""GeoReport v2 endpoints under /open311/v2/ (ADR 0014). Every one answers in the format of its URL suffix
(``.xml`` or ``.json``), errors included (``errors/error{code, description}``).

They are public by the standard: GETs return nothing personal and only the published matters (`selectors`);
POST /requests needs a live API key. Before any work each request passes the body-size limit (413) and the rate
limit of its client address (429); a POST then the key (403) and the key's rate limit (429).
"""

import functools

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from fengqiao.core.context import request_client_address
from fengqiao.open311 import catalogue, selectors, services
from fengqiao.open311.formats import errors, render
from fengqiao.open311.models import ServiceRequest
from fengqiao.open311.services import Refused
from fengqiao.security.declare import public

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def door(*methods):
    """Wrap an endpoint: method, body size, address rate limit, jurisdiction; `Refused` → the error format."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, fmt, **kwargs):
            try:
                if request.method not in methods:
                    response = errors(fmt, 405, f"{request.method} is not allowed here; use {', '.join(methods)}")
                    response["Allow"] = ", ".join(methods)
                    return response
                _check_size(request)
                services.check_address(request_client_address(request) or "unknown")
                return view(request, fmt, **kwargs)
            except Refused as exc:
                response = errors(fmt, exc.status, *exc.messages)
                if exc.status == 429:
                    response["Retry-After"] = "60"
                return response

        return wrapper

    return decorate


def _check_size(request):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, "Content-Length is not a number") from None
    if length > services.max_body():
        raise Refused(413, f"the request body is larger than {services.max_body()} bytes")


def _check_jurisdiction(*sources):
    expected = getattr(settings, "OPEN311_JURISDICTION_ID", "")
    for source in sources:
        given = services.one(source, "jurisdiction_id")
        if given is not None and expected and given != expected:
            raise Refused(404, f"unknown jurisdiction_id {given}")


def _base_url(request):
    return request.build_absolute_uri(reverse("open311:discovery", args=["xml"])).rsplit("/", 1)[0]


@public("Open311 discovery: where the API is and which formats it speaks; no data")
@door("GET")
def discovery(request, fmt):
    changeset = catalogue.changeset()
    body = {
        "changeset": changeset,
        "contact": getattr(settings, "OPEN311_CONTACT", ""),
        "key_service": getattr(
            settings, "OPEN311_KEY_SERVICE", "API keys are issued by the administrators: fengqiao open311-key create"
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": _base_url(request),
                "changeset": changeset,
                "type": getattr(settings, "OPEN311_ENDPOINT_TYPE", "production"),
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", body)


@public("Open311 service list: the public categories of matters (reference data)")
@door("GET")
def service_list(request, fmt):
    _check_jurisdiction(request.GET)
    return render(fmt, "services", [catalogue.service_body(c) for c in catalogue.service_categories()])


@public("Open311 service definition: the questions a category asks (reference data)")
@door("GET")
def service_definition(request, fmt, code):
    _check_jurisdiction(request.GET)
    category = catalogue.service(code)
    if category is None:
        raise Refused(404, f"no service with service_code {code}")
    return render(fmt, "service_definition", catalogue.definition_body(category))


@public("Open311 requests: GET lists published matters without personal data; POST needs a live API key")
@csrf_exempt
@door("GET", "POST")
def request_list(request, fmt):
    if request.method == "POST":
        return _create(request, fmt)
    _check_jurisdiction(request.GET)
    matters, extensions = selectors.find_requests(request.GET)
    return render(fmt, "service_requests", [selectors.request_body(m, extensions=extensions) for m in matters])


def _create(request, fmt):
    content_type = request.content_type or ""
    if content_type not in FORM_TYPES:
        raise Refused(400, "POST bodies are application/x-www-form-urlencoded")
    try:
        data = request.POST
    except (TooManyFieldsSent, RequestDataTooBig):
        raise Refused(400, "too many form fields") from None
    api_key = services.authenticate(services.one(data, "api_key") or services.one(request.GET, "api_key"))
    services.check_key(api_key)
    _check_jurisdiction(data, request.GET)
    created, _new = services.submit_request(api_key=api_key, data=data)
    body = {
        "service_request_id": str(created.matter.pk),
        "token": created.token,
        "service_notice": None,
        "account_id": created.account_id or None,
    }
    return render(fmt, "service_requests", [body])


@public("Open311 single request: a published matter without personal data")
@door("GET")
def request_detail(request, fmt, code):
    _check_jurisdiction(request.GET)
    matter, extensions = selectors.one_request(code, request.GET)
    return render(fmt, "service_requests", [selectors.request_body(matter, extensions=extensions)])


@public("Open311 token: turns a request's token into its id; nothing else")
@door("GET")
def token(request, fmt, token):
    _check_jurisdiction(request.GET)
    found = ServiceRequest.objects.only("token", "matter_id")
    found = found.filter(token=token, matter__channel__in=selectors.publish_channels()).first()
    if found is None:
        raise Refused(404, "no request with this token")
    return render(fmt, "service_requests", [{"service_request_id": str(found.matter_id), "token": found.token}])


@public("Open311 request updates (FixMyStreet): public timeline labels of published matters")
@door("GET")
def request_updates(request, fmt):
    _check_jurisdiction(request.GET)
    return render(fmt, "service_request_updates", selectors.updates(request.GET))


@public("answers an unknown Open311 URL with 404 in the standard error format")
def not_found(request, rest=""):
    fmt = "json" if rest.endswith(".json") else "xml"
    return errors(fmt, 404, "no such Open311 endpoint; see discovery.xml")

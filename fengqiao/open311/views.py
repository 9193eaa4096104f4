"""GeoReport v2 endpoints under /open311/v2/ (ADR 0014). Every one answers in the format of its URL suffix
(``.xml`` or ``.json``), errors included (``errors/error{code, description}``).

They are public by the standard: GETs return nothing personal and only the published matters (`selectors`);
POST /requests and POST /servicerequestupdates need a live API key. Before any work each request passes the
body-size limit (413) and the rate limit of its client address (429); a POST then the key (403) and the key's
rate limit (429). Error descriptions are in the active language (Chinese by default, English with
``Accept-Language: en``); the parameter names in them are the standard's.
"""

import functools

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from fengqiao.core.context import request_client_address
from fengqiao.open311 import catalogue, selectors, services, updates
from fengqiao.open311.formats import errors, render
from fengqiao.open311.models import ServiceRequest
from fengqiao.open311.services import Refused
from fengqiao.security.declare import public

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def door(*methods):
    """Wrap an endpoint: language, method, body size, address rate limit; `Refused` → the error format."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, fmt, **kwargs):
            return in_language(request, lambda: _guarded(view, methods, request, fmt, **kwargs))

        return wrapper

    return decorate


def in_language(request, answer):
    """`answer()` made in the client's language (error descriptions, labels): Accept-Language, else Chinese.

    The site's LocaleMiddleware keeps every URL outside the language-prefixed ones in the default language, which
    suits the pages; an API client cannot choose a URL prefix, so the door reads the header itself."""
    with translation.override(translation.get_language_from_request(request, check_path=False)):
        response = answer()
        response["Content-Language"] = translation.get_language()
    patch_vary_headers(response, ["Accept-Language"])
    return response


def _guarded(view, methods, request, fmt, **kwargs):
    """The view's answer, or its refusal in the error format."""
    try:
        if request.method not in methods:
            message = _("%(method)s is not allowed here; use %(allowed)s")
            response = errors(fmt, 405, message % {"method": request.method, "allowed": ", ".join(methods)})
            response["Allow"] = ", ".join(methods)
            return response
        _check_size(request)
        services.check_address(request_client_address(request) or "unknown")
        return view(request, fmt, **kwargs)
    except (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig) as exc:
        return errors(fmt, *_over_limit(exc))
    except Refused as exc:
        response = errors(fmt, exc.status, *exc.messages)
        if exc.status == 429:
            response["Retry-After"] = "60"
        return response


def _check_size(request):
    """413 before the body is read when Content-Length is over OPEN311_MAX_BODY_BYTES."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, _("the Content-Length header is not a number")) from None
    if length > services.max_body():
        raise Refused(413, too_large(length, services.max_body()))


def too_large(size, limit):
    return _("the request body is %(size)d bytes; at most %(max)d bytes (%(kib)s KiB) are accepted") % {
        "size": size,
        "max": limit,
        "kib": f"{limit / 1024:g}",
    }


def _over_limit(exc):
    """(status, message) for Django's own limits on what it parses (they hold for query strings too)."""
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, _("too many parameters: at most %(max)d are accepted") % {"max": limit}
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, _("too many files: at most %(max)d are accepted") % {"max": limit}
    limit = min(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or services.max_body(), services.max_body())
    return 413, _("the request body is larger than %(max)d bytes, the limit") % {"max": limit}


def _check_jurisdiction(*sources):
    expected = getattr(settings, "OPEN311_JURISDICTION_ID", "")
    for source in sources:
        given = services.one(source, "jurisdiction_id")
        if given is not None and expected and given != expected:
            raise Refused(404, _("unknown jurisdiction_id %(value)s") % {"value": given})


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
        raise Refused(404, services.no_service(code))
    return render(fmt, "service_definition", catalogue.definition_body(category))


@public("Open311 requests: GET lists published matters without personal data; POST needs a live API key")
@csrf_exempt
@door("GET", "POST")
def request_list(request, fmt):
    if request.method == "POST":
        return _create(request, fmt)
    _check_jurisdiction(request.GET)
    matters, extensions = selectors.find_requests(request.GET)
    return render(fmt, "service_requests", selectors.request_bodies(matters, extensions=extensions))


def _form(request):
    """The POST form and its live key (403), within the key's rate limit (429) and the jurisdiction (404)."""
    if (request.content_type or "") not in FORM_TYPES:
        raise Refused(400, _("POST bodies are application/x-www-form-urlencoded"))
    data = request.POST
    api_key = services.authenticate(services.one(data, "api_key") or services.one(request.GET, "api_key"))
    services.check_key(api_key)
    _check_jurisdiction(data, request.GET)
    return data, api_key


def _create(request, fmt):
    data, api_key = _form(request)
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
    return render(fmt, "service_requests", selectors.request_bodies([matter], extensions=extensions))


@public("Open311 token: turns a request's token into its id; nothing else")
@door("GET")
def token(request, fmt, token):
    _check_jurisdiction(request.GET)
    found = ServiceRequest.objects.only("token", "matter_id")
    found = found.filter(token=token, matter__channel__in=selectors.publish_channels()).first()
    if found is None:
        raise Refused(404, _("no request with this token"))
    return render(fmt, "service_requests", [{"service_request_id": str(found.matter_id), "token": found.token}])


@public(
    "Open311 request updates (FixMyStreet): GET lists public timeline labels of published matters; POST needs the "
    "live API key that submitted the request"
)
@csrf_exempt
@door("GET", "POST")
def request_updates(request, fmt):
    if request.method == "POST":
        data, api_key = _form(request)
        update, _new = updates.post_update(api_key=api_key, data=data)
        return render(fmt, "service_request_updates", [{"update_id": str(update.event_id)}])
    _check_jurisdiction(request.GET)
    return render(fmt, "service_request_updates", selectors.updates(request.GET))


@public("answers an unknown Open311 URL with 404 in the standard error format")
def not_found(request, rest=""):
    fmt = "json" if rest.endswith(".json") else "xml"
    return in_language(request, lambda: errors(fmt, 404, _("no such Open311 endpoint; see discovery.xml")))

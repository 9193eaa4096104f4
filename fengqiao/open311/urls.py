"""/open311/v2/: GeoReport v2, each endpoint in .xml and .json (ADR 0014)."""

from django.urls import re_path

from fengqiao.open311 import views

app_name = "open311"

FMT = r"\.(?P<fmt>xml|json)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, views.discovery, name="discovery"),
    re_path(r"^services" + FMT, views.service_list, name="services"),
    re_path(r"^services/(?P<code>[^/]+)" + FMT, views.service_definition, name="service"),
    re_path(r"^requests" + FMT, views.request_list, name="requests"),
    re_path(r"^requests/(?P<code>[^/]+)" + FMT, views.request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[^/]+)" + FMT, views.token, name="token"),
    re_path(r"^servicerequestupdates" + FMT, views.request_updates, name="updates"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]

"""Base classes every API viewset builds on.

* `BaseViewSet.get_queryset` sends every queryset through `scope_queryset`, so no view can forget to restrict
  what a user sees (area scoping by role lands there; today it passes the queryset through). Viewsets declare
  their queryset as a class attribute and never override `get_queryset`.
* Writes go through the domain services: `ServiceViewSet` turns validated data into a call of
  `create_object` / `update_object`, which each viewset implements by calling a service with
  ``actor=request.user``. A service's ``django.core.exceptions.ValidationError`` becomes a 400 with the
  same field keys.
* Every viewset states its `permission_classes` itself (a test checks it): `READ` for read-only resources,
  `WRITE` (Django model permissions: add/change) for writable ones. Both let any authenticated user read.
* Personal data (PIPL): a viewset whose rows hold personal data sets ``personal_data = True``; then every read
  (GET, HEAD, OPTIONS, on every route and action) also needs the model's ``view_`` permission
  (`PersonalDataPermissions`), whatever its `permission_classes` say.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.viewsets import GenericViewSet

READ = [IsAuthenticated]
WRITE = [DjangoModelPermissions]


class ChangeModelPermissions(DjangoModelPermissions):
    """For POST actions that change an existing object (e.g. ending a stationing): needs `change_<model>`."""

    perms_map = {**DjangoModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class PersonalDataPermissions(DjangoModelPermissions):
    """Reads need `view_<model>`; other methods are left to the view's own `permission_classes`.

    `BaseViewSet.get_permissions` adds it to every route of a viewset with ``personal_data = True``.
    """

    VIEW = ["%(app_label)s.view_%(model_name)s"]
    perms_map = {
        **{method: [] for method in DjangoModelPermissions.perms_map},
        "GET": VIEW,
        "HEAD": VIEW,
        "OPTIONS": VIEW,
    }


class GeoJSONRenderer(JSONRenderer):
    """Selected by ``?format=geojson`` or ``Accept: application/geo+json``; views return GeoJSON dicts."""

    media_type = "application/geo+json"
    format = "geojson"


class BaseViewSet(GenericViewSet):
    # Token first, so a request without credentials gets 401 with ``WWW-Authenticate: Token`` (not 403).
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    # True when the rows hold personal data: reads then need the model's view permission too.
    personal_data = False

    def get_permissions(self):
        permissions = super().get_permissions()
        if self.personal_data:
            permissions.append(PersonalDataPermissions())
        return permissions

    def get_queryset(self):
        return self.scope_queryset(super().get_queryset())

    def scope_queryset(self, queryset):
        """Restrict `queryset` to what the requesting user may see. Out-of-scope objects are "not found".

        Area scoping by role comes with the accounts issue; until then every authenticated user sees all.
        """
        return queryset

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(detail=as_serializer_error(exc))
        return super().handle_exception(exc)

    def actor(self):
        return self.request.user


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    pass


class ServiceViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ReadOnlyViewSet):
    """List, retrieve, create and partially update (PATCH) through services. Nothing is deleted through the
    API: objects are deactivated or ended instead, so the history stays whole."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    create_serializer_class = None
    update_serializer_class = None

    def get_serializer_class(self):
        if self.action == "create" and self.create_serializer_class is not None:
            return self.create_serializer_class
        if self.action in {"update", "partial_update"} and self.update_serializer_class is not None:
            return self.update_serializer_class
        return super().get_serializer_class()

    def create_object(self, data):
        raise NotImplementedError

    def update_object(self, instance, data):
        raise NotImplementedError

    def reload(self, obj):
        return self.get_queryset().get(pk=obj.pk)

    def perform_create(self, serializer):
        with transaction.atomic():
            obj = self.create_object(dict(serializer.validated_data))
        serializer.instance = self.reload(obj)

    def perform_update(self, serializer):
        with transaction.atomic():
            obj = self.update_object(serializer.instance, dict(serializer.validated_data))
        serializer.instance = self.reload(obj)

    def get_response_serializer(self, instance):
        """Writes answer with the read serializer, so a create returns the same shape as a retrieve."""
        return self.serializer_class(instance, context=self.get_serializer_context())

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        data = self.get_response_serializer(serializer.instance).data
        return Response(data, status=status.HTTP_201_CREATED, headers=self.get_success_headers(data))

    def update(self, request, *args, **kwargs):
        """PATCH only (PUT is not offered): absent fields stay as they are."""
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self.get_response_serializer(serializer.instance).data)


def service_writes(read, *, create=None, update=None):
    """Class decorator: document that create/partial_update take `create`/`update` and answer with `read`."""
    overrides = {}
    if create is not None:
        overrides["create"] = extend_schema(request=create, responses={201: read})
    if update is not None:
        overrides["partial_update"] = extend_schema(request=update, responses={200: read})

    def decorate(cls):
        cls.serializer_class = read
        cls.create_serializer_class = create
        cls.update_serializer_class = update
        return extend_schema_view(**overrides)(cls)

    return decorate

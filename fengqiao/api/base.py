"""Base classes every API viewset builds on.

* `BaseViewSet.get_queryset` sends every queryset through `scope_queryset`, so no view can forget to restrict
  what a user sees. Viewsets declare their queryset as a class attribute and never override `get_queryset`.
* Area scoping (ADR 0003, 0009): every viewset declares ``scope_path``, the lookup from its rows to an area path
  (``"area__path"``, ``"centre__area__path"``; a tuple of them: a row is in scope by any), or ``None`` for
  unscoped reference data (areas, grid layers, categories, space types). Rows outside the user's `Scope`
  (computed once per request, kept on the request) are "not found". Superusers and system administrators see
  everything; a user without a current area assignment sees nothing scoped and gets a 403 saying why on any
  write to a scoped resource.
* Writes stay inside the scope: every area named in a write must lie in the actor's scope (else 403: areas are
  public), and a related object named in a write (``scoped_relations``) is looked up in the scope, so one
  outside it is answered exactly like one that does not exist.
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

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.viewsets import GenericViewSet

from fengqiao.accounts.scope import request_scope
from fengqiao.areas.models import Area

# `scope_path` of a viewset that has not said how its rows are scoped: using it is a configuration error.
UNDECLARED = object()


class ModelPermissions(DjangoModelPermissions):
    """DRF's model permissions, taking the model from the viewset's declared ``queryset``: DRF would build the
    scoped queryset (`get_queryset`) on every request only to read its model."""

    def _queryset(self, view):
        queryset = getattr(view, "queryset", None)
        return queryset if queryset is not None else super()._queryset(view)


READ = [IsAuthenticated]
WRITE = [ModelPermissions]


class ChangeModelPermissions(ModelPermissions):
    """For POST actions that change an existing object (e.g. ending a stationing): needs `change_<model>`."""

    perms_map = {**DjangoModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class PersonalDataPermissions(ModelPermissions):
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
    # Expiring API tokens first, then the session (settings.REST_FRAMEWORK): a request
    # without credentials gets 401 with WWW-Authenticate: Token, not 403.
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    # True when the rows hold personal data: reads then need the model's view permission too.
    personal_data = False
    # The lookup from a row to its area path ("area__path"), or None for unscoped reference data. Required.
    scope_path = UNDECLARED

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and permissions first (401/403 as before)
        if request.method not in SAFE_METHODS and self.scope_path is not None:
            scope = self.scope()
            if scope.is_empty:
                raise PermissionDenied(scope.why_empty())

    def permission_denied(self, request, message=None, code=None):
        """A signed-in user with no current area assignment is told why (ended on …, starts on …, none at all)
        rather than only that a permission is missing: their permissions come from those assignments."""
        if request.user and request.user.is_authenticated and not request.user.is_superuser:
            scope = request_scope(request)
            if scope.is_empty:
                message = scope.why_empty()
        return super().permission_denied(request, message=message, code=code)

    def scope(self):
        """The requesting user's `Scope`, computed once per request."""
        return request_scope(self.request)

    def get_permissions(self):
        permissions = super().get_permissions()
        if self.personal_data:
            permissions.append(PersonalDataPermissions())
        return permissions

    def get_queryset(self):
        return self.scope_queryset(super().get_queryset())

    def scope_queryset(self, queryset):
        """Restrict `queryset` to what the requesting user may see. Out-of-scope objects are "not found"."""
        if self.scope_path is UNDECLARED:
            raise ImproperlyConfigured(f"{type(self).__name__} must declare scope_path (None when unscoped)")
        if self.scope_path is None:
            return queryset
        if isinstance(self.scope_path, tuple):  # several lookups: a row in scope by any of them
            scope = self.scope()
            if scope.unrestricted:
                return queryset
            if scope.is_empty:
                return queryset.none()
            condition = Q()
            for path in self.scope_path:
                condition |= scope.q(path)
            return queryset.filter(condition).distinct()
        return self.scope().filter(queryset, self.scope_path)

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
    # Write fields naming a scoped object, with the lookup from that object to its area path: such a field
    # only finds objects in the actor's scope ({"centre": "area__path"}).
    scoped_relations = {}

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if self.request is not None and self.request.method not in SAFE_METHODS and self.scoped_relations:
            fields = serializer.fields
            for name, path_field in self.scoped_relations.items():
                field = fields.get(name)
                if field is not None and getattr(field, "queryset", None) is not None:
                    field.queryset = self.scope().filter(field.queryset, path_field)
        return serializer

    def check_write_scope(self, data):
        """Every area named in a write lies in the actor's scope (403 otherwise: areas are public)."""
        scope = self.scope()
        for value in data.values():
            if isinstance(value, Area) and not scope.covers(value):
                raise PermissionDenied(f"area {value.code} ({value.name}) is outside the areas you hold a role over")

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
        self.check_write_scope(serializer.validated_data)
        with transaction.atomic():
            obj = self.create_object(dict(serializer.validated_data))
        serializer.instance = self.reload(obj)

    def perform_update(self, serializer):
        self.check_write_scope(serializer.validated_data)
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

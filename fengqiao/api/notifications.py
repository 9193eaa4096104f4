"""API of the in-app inbox: a user's own notifications (ADR 0012).

The inbox is scoped by owner, not by area: `InboxViewSet` declares ``scope_path = None`` (no area rule, so a
user whose area assignments have ended can still read and clear their inbox) and narrows every queryset to the
requesting user's own rows in `scope_queryset`, the scoping hook of `BaseViewSet`. Another user's notification
is "not found", whoever asks (superusers too: an inbox is personal).
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from fengqiao.api.base import READ, ReadOnlyViewSet
from fengqiao.api.fields import CodeField
from fengqiao.notifications import selectors, services
from fengqiao.notifications.models import Notification


class TargetSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="app label and model, e.g. matters.matter")
    id = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True, help_text="division code of the area it concerns")
    target = serializers.SerializerMethodField()
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "target", "area", "created_at", "read_at", "unread"]

    @extend_schema_field(TargetSerializer(allow_null=True))
    def get_target(self, obj):
        return {"type": obj.target_type, "id": obj.target_id} if obj.target_type else None

    @extend_schema_field(serializers.BooleanField())
    def get_unread(self, obj):
        return obj.read_at is None


class ReadAllSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(
        required=False, min_value=1, help_text="only notifications with an id up to this one (the newest listed)"
    )


class InboxFilter(filters.FilterSet):
    unread = filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", help_text="true: unread only")
    kind = filters.CharFilter(method="filter_kind", help_text="kind, or a prefix ending in a dot (matter.)")

    class Meta:
        model = Notification
        fields = ["unread", "kind"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(kind__startswith=value) if value.endswith(".") else queryset.filter(kind=value)


@extend_schema(tags=["inbox"])
class InboxViewSet(ReadOnlyViewSet):
    """The requesting user's notifications, newest first; ``unread=true`` lists the unread ones."""

    permission_classes = READ
    scope_path = None  # owner-scoped, not area-scoped: see scope_queryset
    queryset = Notification.objects.select_related("area")
    serializer_class = NotificationSerializer
    filterset_class = InboxFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    def scope_queryset(self, queryset):
        """The requesting user's own notifications only (after the base class's checks)."""
        return selectors.inbox(self.request.user, super().scope_queryset(queryset))

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark the notification read (again: no change)."""
        notification = services.mark_read(actor=self.actor(), notification=self.get_object())
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=ReadAllSerializer,
        responses=inline_serializer("ReadAllResult", {"marked": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark every unread notification read (up to ``up_to`` when given); answers how many were marked."""
        body = ReadAllSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        marked = services.mark_all_read(actor=self.actor(), up_to=body.validated_data.get("up_to"))
        return Response({"marked": marked})

    @extend_schema(responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}))
    @action(detail=False, methods=["get"], url_path="unread-count", filterset_class=None, pagination_class=None)
    def unread_count(self, request):
        """How many notifications are unread."""
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})

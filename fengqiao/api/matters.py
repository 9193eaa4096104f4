"""API of the closed loop (ADR 0013).

* ``/matters/``: intake (``POST``, JSON or multipart with ``photos``; the same ``client_token`` twice answers
  200 with the first matter), lists with filters, the detail with timeline, dispatches, clocks and photos;
  ``GET /matters/{id}/actions/`` the steps the caller may take now; ``POST /matters/{id}/transition/`` takes
  one (``{"action": "dispatch", "reason": "…", "targets": [...]}``; refusals are 400/403/409 with a stable
  ``code``); ``POST /matters/{id}/photos/`` adds a photo; ``GET /matters/{id}/photos/{photo}/`` serves it
  (``?thumbnail=1``); ``POST /matters/{id}/reporter/`` shows the reporter's contact unmasked, for a reason,
  audited; ``GET /matters/{id}/duplicates/`` likely duplicates with a score and a reason (ADR 0019).
* ``/supervisions/`` and ``/tasks/``: supervision (督办) and tasks with subtasks and progress.
* ``/deadline-policies/``: the time limits, edited by system administrators.
* ``/track/{code}/``: the reporter's tracking page without an account (timeline, reply) and
  ``/track/{code}/rating/`` the rating; ``/reports/``: a citizen's report without an account. Both throttled.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from fengqiao.api.base import READ, WRITE, ModelPermissions, ReadOnlyViewSet, ServiceViewSet
from fengqiao.api.fields import CodeField, IdField, MaskedCharField
from fengqiao.api.filters import AreaCodeFilter, CodeFilter, WithinFilter
from fengqiao.core.masking import mask_name, mask_phone
from fengqiao.departments.models import Category
from fengqiao.matters import duplicates, engine, services
from fengqiao.matters.models import (
    Attachment,
    Channel,
    Clock,
    Complexity,
    DeadlinePolicy,
    Dispatch,
    Matter,
    MatterEvent,
    Rating,
    Supervision,
    Task,
    TimeUnit,
    Urgency,
)
from fengqiao.matters.workflows import get_workflow

# --- serializers -----------------------------------------------------------------------------------------


class StateField(serializers.CharField):
    def to_representation(self, value):
        return value


def state_label(matter):
    return str(get_workflow(matter.workflow).state(matter.state).label)


class MatterListSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    handling_area = CodeField(read_only=True)
    category = CodeField(read_only=True)
    grid = IdField(read_only=True)
    department = IdField(read_only=True)
    state_label = serializers.SerializerMethodField()

    class Meta:
        model = Matter
        fields = [
            "id",
            "tracking_code",
            "workflow",
            "channel",
            "title",
            "category",
            "urgency",
            "complexity",
            "state",
            "state_label",
            "area",
            "grid",
            "handling_area",
            "department",
            "warning",
            "supervised",
            "needs_triage",
            "provisional_deadline",
            "submitted_at",
            "state_changed_at",
        ]

    def get_state_label(self, matter) -> str:
        return state_label(matter)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatterEvent
        fields = ["id", "action", "from_state", "to_state", "actor_label", "at", "reason", "payload", "public"]


class DispatchSerializer(serializers.ModelSerializer):
    department = IdField(read_only=True)
    assignee = IdField(read_only=True)
    department_name = serializers.CharField(source="department.name", default="", read_only=True)

    class Meta:
        model = Dispatch
        fields = [
            "id",
            "department",
            "department_name",
            "assignee",
            "role",
            "state",
            "dispatched_at",
            "acknowledge_due",
            "acknowledged_at",
            "ended_at",
        ]


class ClockSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clock
        fields = [
            "id",
            "stage",
            "dispatch",
            "started_at",
            "amount",
            "unit",
            "due_at",
            "warn_at",
            "provisional",
            "paused_at",
            "stopped_at",
            "standing",
            "extended",
        ]


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attachment
        fields = [
            "id",
            "purpose",
            "content_type",
            "size",
            "width",
            "height",
            "sha256",
            "gps_lon",
            "gps_lat",
            "taken_at",
            "uploaded_at",
        ]


class MatterSerializer(MatterListSerializer):
    reporter_name = MaskedCharField(mask=mask_name, read_only=True, help_text="masked")
    reporter_phone = MaskedCharField(mask=mask_phone, read_only=True, help_text="masked (3+4)")
    parent = serializers.SlugRelatedField(slug_field="tracking_code", read_only=True)
    events = EventSerializer(many=True, read_only=True)
    dispatches = DispatchSerializer(many=True, read_only=True)
    clocks = ClockSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta(MatterListSerializer.Meta):
        fields = [
            *MatterListSerializer.Meta.fields,
            "description",
            "lon",
            "lat",
            "address",
            "location_method",
            "anonymous",
            "reporter_name",
            "reporter_phone",
            "assignee",
            "parent",
            "escalations",
            "accepted_at",
            "dispatched_at",
            "acknowledged_at",
            "handled_at",
            "replied_at",
            "closed_at",
            "result",
            "reply",
            "rating",
            "rating_comment",
            "reopened",
            "solved_level",
            "solved_on_spot",
            "was_overdue",
            "handled_on_time",
            "events",
            "dispatches",
            "clocks",
            "attachments",
        ]


class IntakeSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    category = serializers.CharField(max_length=32, required=False, allow_blank=True, help_text="category code")
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    complexity = serializers.ChoiceField(choices=Complexity.choices, required=False)
    lon = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    area = serializers.CharField(max_length=15, required=False, allow_blank=True, help_text="division code")
    anonymous = serializers.BooleanField(required=False, default=False)
    reporter_name = serializers.CharField(max_length=60, required=False, allow_blank=True, write_only=True)
    reporter_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, write_only=True)
    client_token = serializers.CharField(max_length=64, required=False, allow_blank=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False, max_length=services.MAX_PHOTOS)


class TransitionSerializer(serializers.Serializer):
    """One step. Which fields a step needs: `GET /matters/{id}/actions/` (``requires``)."""

    action = serializers.CharField(max_length=32, help_text="accept, dispatch, acknowledge, handle, … (see actions)")
    reason = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    targets = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='dispatch/transfer: [{"department": id} or {"assignee": user id}, "role": "lead"|"assist"]',
    )
    result = serializers.CharField(required=False, help_text="handle, resolve_on_spot")
    evidence = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="photo ids")
    reply = serializers.CharField(required=False, help_text="reply")
    rating = serializers.ChoiceField(choices=Rating.choices, required=False)
    comment = serializers.CharField(required=False, help_text="rate, revisit")
    decision = serializers.ChoiceField(choices=["approve", "refuse"], required=False, help_text="decide_extension")
    amount = serializers.IntegerField(required=False, help_text="request_extension")
    unit = serializers.ChoiceField(choices=TimeUnit.choices, required=False)
    parent = serializers.CharField(required=False, help_text="merge: tracking code or id")
    note = serializers.CharField(required=False, help_text="supervise")
    due = serializers.DateTimeField(required=False, help_text="supervise")
    category = serializers.CharField(required=False, help_text="accept: category code")
    complexity = serializers.ChoiceField(choices=Complexity.choices, required=False, help_text="accept")
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, help_text="accept")


ACTION_SCHEMA = inline_serializer(
    "MatterAction",
    {
        "action": serializers.CharField(),
        "label": serializers.CharField(),
        "requires": serializers.ListField(child=serializers.CharField()),
    },
)


class DuplicateSerializer(serializers.Serializer):
    """A likely duplicate of a matter (ADR 0019). Staff merge one with the matter's ``merge`` step
    (``{"action": "merge", "parent": "<tracking code>"}``) when ``mergeable``."""

    id = serializers.IntegerField(source="matter_id")
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    score = serializers.FloatField(help_text="0–1: text similarity × nearness × closeness in time")
    text_score = serializers.FloatField(help_text="0–1: similarity of the texts (character bigrams)")
    distance_m = serializers.FloatField(allow_null=True, help_text="null: compared by area (a point is missing)")
    hours_apart = serializers.FloatField()
    shared = serializers.ListField(child=serializers.CharField(), help_text="words both texts contain")
    mergeable = serializers.BooleanField(help_text="open and not merged itself: a matter can be merged into it")
    via = serializers.CharField(allow_null=True, help_text="the duplicate merged into it that matched, if not itself")
    reason = serializers.CharField(help_text="why, in words for staff")


ERROR_SCHEMA = inline_serializer(
    "TransitionError",
    {"code": serializers.CharField(), "detail": serializers.CharField(), "field": serializers.CharField()},
)


def intake_summary(matter):
    """The 201 answer of an intake: the fields of `MatterListSerializer`, built directly (the hot path)."""
    return {
        "id": matter.pk,
        "tracking_code": matter.tracking_code,
        "workflow": matter.workflow,
        "channel": matter.channel,
        "title": matter.title,
        "category": matter.category.code if matter.category_id else None,
        "urgency": matter.urgency,
        "complexity": matter.complexity,
        "state": matter.state,
        "state_label": state_label(matter),
        "area": matter.area.code,
        "grid": matter.grid_id,
        "handling_area": matter.handling_area.code,
        "department": matter.department_id,
        "warning": matter.warning,
        "supervised": matter.supervised,
        "needs_triage": matter.needs_triage,
        "provisional_deadline": matter.provisional_deadline,
        "submitted_at": serializers.DateTimeField().to_representation(matter.submitted_at),
        "state_changed_at": serializers.DateTimeField().to_representation(matter.state_changed_at),
    }


def transition_error(exc):
    body = {"code": exc.code, "detail": str(exc.message)}
    if getattr(exc, "field", None):
        body["field"] = exc.field
    return Response(body, status=exc.status)


def read_photos(files):
    out = []
    from fengqiao.core.images import check_size

    for upload in files:
        try:
            check_size(upload.size, filename=upload.name)
        except DjangoValidationError as exc:
            raise DRFValidationError({"photos": exc.messages}) from None
        out.append((upload.name, upload.read()))
    return out


def intake(request, data, *, channel=None, reporter=None, client_key):
    """Run `services.submit` from validated intake data; returns (matter, created)."""
    from fengqiao.areas.models import Area

    area = None
    if data.get("area"):
        area = Area.objects.filter(code=data["area"]).first()
        if area is None:
            raise DRFValidationError({"area": [_("No area with code %(code)s.") % {"code": data["area"]}]})
    try:
        photos = read_photos(data.get("photos") or [])
        return services.submit(
            actor=request.user if request.user.is_authenticated else "citizen (no account)",
            channel=channel or data["channel"],
            title=data.get("title", ""),
            description=data.get("description", ""),
            category=data.get("category") or None,
            urgency=data.get("urgency"),
            complexity=data.get("complexity"),
            lon=data.get("lon"),
            lat=data.get("lat"),
            address=data.get("address", ""),
            area=area,
            anonymous=data.get("anonymous", False),
            reporter=reporter,
            reporter_name=data.get("reporter_name", ""),
            reporter_phone=data.get("reporter_phone", ""),
            photos=photos,
            client_key=client_key,
            client_token=data.get("client_token", ""),
        )
    except DjangoValidationError as exc:
        raise DRFValidationError(serializers.as_serializer_error(exc)) from None


# --- filters ---------------------------------------------------------------------------------------------


class MatterFilter(filters.FilterSet):
    within = WithinFilter(field_name="area")
    handling_area = AreaCodeFilter(field_name="handling_area")
    category = CodeFilter(field_name="category", queryset=Category.objects.all(), noun="category")
    state = filters.CharFilter(field_name="state")
    channel = filters.ChoiceFilter(choices=Channel.choices)
    warning = filters.ChoiceFilter(choices=[("yellow", "yellow"), ("red", "red")])
    department = filters.NumberFilter(field_name="department_id")
    grid = filters.NumberFilter(field_name="grid_id")
    supervised = filters.BooleanFilter()
    needs_triage = filters.BooleanFilter()
    submitted_after = filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    tracking_code = filters.CharFilter(field_name="tracking_code", lookup_expr="iexact")
    q = filters.CharFilter(field_name="title", lookup_expr="icontains", label="title contains")
    mine = filters.BooleanFilter(method="dispatched_to_me", label="dispatched to me or my department")

    class Meta:
        model = Matter
        fields = []

    def dispatched_to_me(self, queryset, name, value):
        if not value:
            return queryset
        from django.db.models import Q

        from fengqiao.accounts.models import current_q
        from fengqiao.departments.models import Membership

        user = self.request.user
        departments = Membership.objects.filter(current_q(), user=user).values("department_id")
        active = Dispatch.objects.filter(state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]).filter(
            Q(assignee=user) | Q(department__in=departments)
        )
        return queryset.filter(pk__in=active.values("matter_id"))


# --- viewsets --------------------------------------------------------------------------------------------


class RoutingAdviceSerializer(serializers.Serializer):
    label = serializers.CharField()
    confidence = serializers.FloatField()
    terms = serializers.ListField(child=serializers.CharField())
    category = serializers.SerializerMethodField()
    departments = serializers.SerializerMethodField()
    decision = serializers.ChoiceField(choices=["route", "triage"])
    reasons = serializers.ListField(child=serializers.CharField())

    def get_category(self, advice) -> dict | None:
        category = advice.category
        return None if category is None else {"code": category.code, "name": category.name}

    def get_departments(self, advice) -> list[dict]:
        return [
            {"code": d.code, "name": d.name, "area": d.area.code, "lead": d.responsibility.lead}
            for d in advice.departments
        ]


class MatterPermissions(ModelPermissions):
    """Intake needs ``add_matter``; transitions and photos check their own permission in the engine."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.add_matter"]}


class MatterViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    queryset = Matter.objects.select_related("area", "handling_area", "category", "grid", "department")
    serializer_class = MatterSerializer
    permission_classes = [MatterPermissions]
    scope_path = "area__path"
    personal_data = True
    filterset_class = MatterFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_permissions(self):
        if self.action in {"transition", "photos", "reporter"}:
            # Reads need view_matter (personal data); what a step needs, the engine checks.
            return [p() for p in READ] + [
                perm for perm in super().get_permissions() if not isinstance(perm, MatterPermissions)
            ]
        return super().get_permissions()

    def get_serializer_class(self):
        if self.action == "list":
            return MatterListSerializer
        if self.action == "create":
            return IntakeSerializer
        return MatterSerializer

    def scope_queryset(self, queryset):
        queryset = super().scope_queryset(queryset)
        if getattr(self, "action", None) == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("events", MatterEvent.objects.order_by("at", "id")),
                Prefetch("dispatches", Dispatch.objects.select_related("department")),
                "clocks",
                "attachments",
            ).select_related("parent")
        return queryset

    @extend_schema(request=IntakeSerializer, responses={201: MatterListSerializer, 200: MatterListSerializer})
    def create(self, request, *args, **kwargs):
        serializer = IntakeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "photos" in request.FILES:
            data["photos"] = request.FILES.getlist("photos")
        if data.get("area"):
            from fengqiao.areas.models import Area

            area = Area.objects.filter(code=data["area"]).first()
            if area is not None and not self.scope().covers(area):
                raise PermissionDenied(
                    _("Area %(code)s is outside the areas you hold a role over.") % {"code": area.code}
                )
        matter, created = intake(request, data, client_key=f"user:{request.user.pk}")
        # The summary of what was taken in (the submitter sees it even when it was placed outside their areas, for
        # triage above); the whole record with its timeline is at the Location.
        body = intake_summary(matter)
        headers = {"Location": f"{request.path.rstrip('/')}/{matter.pk}/"}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers=headers)

    @extend_schema(responses={200: ACTION_SCHEMA})
    @action(detail=True, methods=["get"])
    def actions(self, request, pk=None):
        matter = self.get_object()
        allowed = engine.allowed_actions(matter, actor=request.user, scope=self.scope())
        return Response([{"action": t.action, "label": str(t.label), "requires": list(t.requires)} for t in allowed])

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"at most this many (1–{duplicates.MAX_LIMIT}; 5)")
        ],
        responses={200: DuplicateSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def duplicates(self, request, pk=None):
        """Likely duplicates (并单) among the matters the caller may see, best first, each with a score and a
        reason; nothing is merged here (ADR 0019)."""
        matter = self.get_object()
        raw = request.query_params.get("limit", "5")
        limit = int(raw) if raw.isdigit() and raw.isascii() else 0
        if not 1 <= limit <= duplicates.MAX_LIMIT:
            raise DRFValidationError(
                {"limit": [_("limit must be a whole number from 1 to %(most)d.") % {"most": duplicates.MAX_LIMIT}]}
            )
        found = duplicates.suggest(matter, limit=limit, scope=self.scope())
        return Response(DuplicateSerializer(found, many=True).data)

    @extend_schema(responses={200: RoutingAdviceSerializer})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def routing(self, request, pk=None):
        """The router's advice for the matter — category, confidence, the terms that weighed, the departments
        the area's catalogue names, route or triage — with its reasons (智能派单, explained; nothing is written)."""
        from fengqiao.routing.advice import advise

        return Response(RoutingAdviceSerializer(advise(self.get_object())).data)

    @extend_schema(
        request=TransitionSerializer,
        responses={200: MatterSerializer, 400: ERROR_SCHEMA, 403: ERROR_SCHEMA, 409: ERROR_SCHEMA},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        matter = self.get_object()
        payload = dict(request.data.items()) if hasattr(request.data, "items") else {}
        name = payload.pop("action", None)
        if not name or not isinstance(name, str):
            return Response({"code": "invalid", "detail": _("action is required."), "field": "action"}, status=400)
        reason = payload.pop("reason", "") or ""
        if not isinstance(reason, str):
            return Response({"code": "invalid", "detail": _("reason must be text."), "field": "reason"}, status=400)
        try:
            engine.perform(matter, name, actor=request.user, reason=reason, payload=payload, scope=self.scope())
        except engine.TransitionError as exc:
            return transition_error(exc)
        return Response(MatterSerializer(self.get_queryset().get(pk=matter.pk)).data)

    @extend_schema(
        request={"multipart/form-data": inline_serializer("PhotoUpload", {"photo": serializers.FileField()})},
        responses={201: AttachmentSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def photos(self, request, pk=None):
        matter = self.get_object()
        upload = request.FILES.get("photo")
        if upload is None:
            raise DRFValidationError({"photo": [_("A photo file is required.")]})
        user = request.user
        # The unit the matter is dispatched to, or the centre that owns it: nobody else adds evidence.
        worker = user.has_perm("matters.work_matter") and bool(engine.active_dispatches_of(matter, user))
        centre = user.has_perm("matters.triage_matter") and self.scope().covers(matter.handling_area)
        if not (worker or centre):
            raise PermissionDenied(_("Only the unit this matter is dispatched to, or its centre, may add photos."))
        try:
            photos = read_photos([upload])
            attachment = services.add_photo(matter, actor=request.user, name=photos[0][0], data=photos[0][1])
        except DjangoValidationError as exc:
            raise DRFValidationError(serializers.as_serializer_error(exc)) from None
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("thumbnail", OpenApiTypes.BOOL, description="the thumbnail instead")],
        responses={(200, "image/*"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path=r"photos/(?P<photo>[0-9]+)")
    def photo(self, request, pk=None, photo=None):
        from fengqiao.matters import attachments

        matter = self.get_object()
        item = get_object_or_404(Attachment, pk=photo, matter=matter)
        thumbnail = request.query_params.get("thumbnail") in {"1", "true", "yes"}
        content = attachments.load(item, thumbnail=thumbnail)
        response = HttpResponse(content, content_type=item.thumbnail_type if thumbnail else item.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(
        request=inline_serializer("ReporterUnmask", {"reason": serializers.CharField()}),
        responses={
            200: inline_serializer(
                "ReporterContact", {"name": serializers.CharField(), "phone": serializers.CharField()}
            )
        },
    )
    @action(detail=True, methods=["post"])
    def reporter(self, request, pk=None):
        matter = self.get_object()
        if not request.user.has_perm("matters.unmask_reporter"):
            raise PermissionDenied(_("You may not see reporters' contact details."))
        try:
            contact = services.reporter_contact(matter, actor=request.user, reason=request.data.get("reason", ""))
        except DjangoValidationError as exc:
            raise DRFValidationError(serializers.as_serializer_error(exc)) from None
        return Response(contact)


class SupervisionSerializer(serializers.ModelSerializer):
    matter = serializers.SlugRelatedField(slug_field="tracking_code", read_only=True)
    task = IdField(read_only=True)
    area = CodeField(read_only=True)
    supervisor = IdField(read_only=True)

    class Meta:
        model = Supervision
        fields = [
            "id",
            "matter",
            "task",
            "area",
            "supervisor",
            "automatic",
            "note",
            "due_at",
            "state",
            "created_at",
            "closed_at",
        ]


class SupervisionFilter(filters.FilterSet):
    within = WithinFilter(field_name="area")
    state = filters.ChoiceFilter(choices=Supervision.State.choices)
    automatic = filters.BooleanFilter()

    class Meta:
        model = Supervision
        fields = []


class SupervisionViewSet(ReadOnlyViewSet):
    """Supervisions of matters in the caller's areas (open them with the matter's ``supervise`` step; a task's
    supervision with ``POST /tasks/{id}/supervise/``). ``POST /supervisions/{id}/close/`` ends one."""

    queryset = Supervision.objects.select_related("matter", "area", "task")
    serializer_class = SupervisionSerializer
    permission_classes = READ
    # The supervising level's own rows, and the supervisions of matters and tasks in the caller's areas.
    scope_path = ("area__path", "matter__area__path", "task__area__path")
    personal_data = True  # need to know: reads need view_supervision
    filterset_class = SupervisionFilter

    @extend_schema(
        request=inline_serializer("SupervisionClose", {"note": serializers.CharField(required=False)}),
        responses={200: SupervisionSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        supervision = self.get_object()
        if not request.user.has_perm("matters.supervise_matter") or not self.scope().covers(supervision.area):
            raise PermissionDenied(_("Only the supervising level may close a supervision."))
        if supervision.state == Supervision.State.DONE:
            return Response(
                {"code": "illegal_transition", "detail": _("The supervision is already closed.")}, status=409
            )
        from fengqiao.matters import tasks as task_services

        task_services.close_supervision(supervision, actor=request.user, note=request.data.get("note", ""))
        return Response(SupervisionSerializer(Supervision.objects.get(pk=supervision.pk)).data)


class TaskSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    parent = IdField(read_only=True)
    department = IdField(read_only=True)
    assignee = IdField(read_only=True)
    matter = serializers.SlugRelatedField(slug_field="tracking_code", read_only=True)
    subtasks = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "area",
            "parent",
            "matter",
            "title",
            "description",
            "department",
            "assignee",
            "due_at",
            "progress",
            "progress_note",
            "state",
            "done_at",
            "overdue",
            "subtasks",
            "created_at",
        ]


class TaskCreateSerializer(serializers.Serializer):
    area = serializers.CharField(max_length=15, help_text="division code")
    parent = serializers.IntegerField(required=False, allow_null=True)
    matter = serializers.CharField(max_length=12, required=False, allow_blank=True, help_text="tracking code")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    department = serializers.IntegerField(required=False, allow_null=True)
    assignee = serializers.IntegerField(required=False, allow_null=True)
    due_at = serializers.DateTimeField()


class TaskUpdateSerializer(serializers.Serializer):
    progress = serializers.IntegerField(min_value=0, max_value=100, required=False)
    progress_note = serializers.CharField(required=False, allow_blank=True)
    state = serializers.ChoiceField(choices=Task.State.choices, required=False)
    due_at = serializers.DateTimeField(required=False)


class TaskFilter(filters.FilterSet):
    within = WithinFilter(field_name="area")
    state = filters.ChoiceFilter(choices=Task.State.choices)
    overdue = filters.BooleanFilter()
    top_level = filters.BooleanFilter(field_name="parent", lookup_expr="isnull")

    class Meta:
        model = Task
        fields = []


class TaskViewSet(ServiceViewSet):
    queryset = Task.objects.select_related("area", "matter", "department", "assignee").prefetch_related("subtasks")
    serializer_class = TaskSerializer
    permission_classes = WRITE
    scope_path = "area__path"
    personal_data = True  # need to know: reads need view_task
    filterset_class = TaskFilter

    def get_serializer_class(self):
        if self.action == "create":
            return TaskCreateSerializer
        if self.action == "partial_update":
            return TaskUpdateSerializer
        return TaskSerializer

    def get_response_serializer(self, instance):
        return TaskSerializer(instance, context=self.get_serializer_context())

    def create_object(self, data):
        from fengqiao.matters import tasks as task_services

        return task_services.create_task(actor=self.request.user, scope=self.scope(), **data)

    def update_object(self, instance, data):
        from fengqiao.matters import tasks as task_services

        return task_services.update_task(instance, actor=self.request.user, **data)

    @extend_schema(
        request=inline_serializer(
            "TaskSupervise", {"note": serializers.CharField(), "due_at": serializers.DateTimeField(required=False)}
        ),
        responses={201: SupervisionSerializer},
    )
    @action(detail=True, methods=["post"])
    def supervise(self, request, pk=None):
        from fengqiao.matters import tasks as task_services

        task = self.get_object()
        if not request.user.has_perm("matters.supervise_matter"):
            raise PermissionDenied(_("You may not supervise tasks."))
        try:
            supervision = task_services.supervise_task(
                task,
                actor=request.user,
                scope=self.scope(),
                note=request.data.get("note", ""),
                due_at=request.data.get("due_at"),
            )
        except DjangoValidationError as exc:
            raise DRFValidationError(serializers.as_serializer_error(exc)) from None
        return Response(SupervisionSerializer(supervision).data, status=status.HTTP_201_CREATED)


class DeadlinePolicySerializer(serializers.ModelSerializer):
    category = CodeField(queryset=Category.objects.all(), allow_null=True, required=False)

    class Meta:
        model = DeadlinePolicy
        fields = [
            "id",
            "workflow",
            "stage",
            "category",
            "complexity",
            "channel",
            "amount",
            "unit",
            "warn_fraction",
            "note",
        ]


class DeadlinePolicyViewSet(ServiceViewSet):
    """Time limits per workflow stage × category × complexity × channel (blank: any): the most specific wins."""

    queryset = DeadlinePolicy.objects.select_related("category")
    serializer_class = DeadlinePolicySerializer
    permission_classes = WRITE
    scope_path = None

    def create_object(self, data):
        from fengqiao.matters import tasks as task_services

        return task_services.save_policy(None, actor=self.request.user, **data)

    def update_object(self, instance, data):
        from fengqiao.matters import tasks as task_services

        return task_services.save_policy(instance, actor=self.request.user, **data)


# --- the reporter, without an account ----------------------------------------------------------------------


class TrackingSerializer(serializers.Serializer):
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    state = serializers.CharField()
    state_label = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    reply = serializers.CharField()
    rating = serializers.CharField()
    can_rate = serializers.BooleanField()
    timeline = serializers.ListField(child=serializers.DictField())


def _when(moment):
    """Local time with its offset (+08:00), as the staff API shows it."""
    return serializers.DateTimeField().to_representation(moment)


def tracking_body(matter):
    from fengqiao.audit.redact import redact_text

    wf = get_workflow(matter.workflow)
    labels = {t.action: str(t.label) for t in wf.transitions} | {"submit": str(_submitted_label())}
    events = matter.events.filter(public=True).order_by("at", "id")
    return {
        "tracking_code": matter.tracking_code,
        "title": redact_text(matter.title),
        "category": matter.category.name if matter.category_id else None,
        "state": matter.state,
        "state_label": state_label(matter),
        "submitted_at": _when(matter.submitted_at),
        "reply": redact_text(matter.reply),
        "rating": matter.rating,
        "can_rate": matter.state == "replied",
        "timeline": [
            {"action": e.action, "label": labels.get(e.action, e.action), "at": _when(e.at), "state": e.to_state}
            for e in events
        ],
    }


def _submitted_label():
    from django.utils.translation import gettext_lazy as _

    return _("submitted")


class PublicThrottle(ScopedRateThrottle):
    scope_attr = "throttle_scope"


class TrackView(APIView):
    """The reporter's view of a matter by its tracking code: no account needed; nothing personal is shown."""

    permission_classes = [AllowAny]
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    @extend_schema(responses={200: TrackingSerializer})
    def get(self, request, code):
        matter = Matter.objects.select_related("category").filter(tracking_code=code.upper()).first()
        if matter is None:
            return Response({"detail": _("No matter has this tracking code.")}, status=404)
        return Response(tracking_body(matter))


class RatingView(APIView):
    """The reporter rates the reply: satisfied or basically satisfied closes the matter; unsatisfied sends it back
    to be handled again (重办) as long as the reopen limit allows, else the rating is recorded."""

    permission_classes = [AllowAny]
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    @extend_schema(
        request=inline_serializer(
            "Rating",
            {
                "rating": serializers.ChoiceField(choices=Rating.choices),
                "comment": serializers.CharField(required=False),
            },
        ),
        responses={200: TrackingSerializer, 409: ERROR_SCHEMA},
    )
    def post(self, request, code):
        matter = Matter.objects.filter(tracking_code=code.upper()).first()
        if matter is None:
            return Response({"detail": _("No matter has this tracking code.")}, status=404)
        rating = request.data.get("rating")
        comment = request.data.get("comment", "")
        if rating not in {"satisfied", "basically", "unsatisfied"}:
            return Response(
                {
                    "code": "invalid",
                    "detail": _("rating must be satisfied, basically or unsatisfied."),
                    "field": "rating",
                },
                status=400,
            )
        reopen = rating == "unsatisfied" and matter.reopened < engine.max_reopen()
        try:
            if reopen:
                engine.perform(matter, "reopen", actor=None, via_tracking=True, reason=comment or "不满意", payload={})
            else:
                engine.perform(
                    matter, "rate", actor=None, via_tracking=True, payload={"rating": rating, "comment": comment}
                )
        except engine.TransitionError as exc:
            return transition_error(exc)
        return Response(tracking_body(Matter.objects.get(pk=matter.pk)))


class SupplementView(APIView):
    """The reporter answers while the matter waits for them (e.g. the exact place, a missing detail): the answer
    goes on the timeline and the clocks run again."""

    permission_classes = [AllowAny]
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    @extend_schema(
        request=inline_serializer("Supplement", {"text": serializers.CharField()}),
        responses={200: TrackingSerializer, 409: ERROR_SCHEMA},
    )
    def post(self, request, code):
        matter = Matter.objects.filter(tracking_code=code.upper()).first()
        if matter is None:
            return Response({"detail": _("No matter has this tracking code.")}, status=404)
        text = request.data.get("text", "")
        if not isinstance(text, str) or not text.strip():
            return Response({"code": "invalid", "detail": _("text is required."), "field": "text"}, status=400)
        try:
            engine.perform(matter, "supplement", actor=None, via_tracking=True, reason=text[:4000])
        except engine.TransitionError as exc:
            return transition_error(exc)
        return Response(tracking_body(Matter.objects.get(pk=matter.pk)))


class PublicReportView(APIView):
    """A citizen's snap report without an account (photo + location; anonymous allowed). Answers with the
    tracking code. ``client_token`` (a random string the app makes, 16–64 characters) makes a retry safe."""

    permission_classes = [AllowAny]
    throttle_classes = [PublicThrottle]
    throttle_scope = "public_report"
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=IntakeSerializer, responses={201: TrackingSerializer, 200: TrackingSerializer})
    def post(self, request):
        serializer = IntakeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "photos" in request.FILES:
            data["photos"] = request.FILES.getlist("photos")
        token = data.get("client_token", "")
        if token and len(token) < 16:
            raise DRFValidationError({"client_token": [_("Use a random token of at least 16 characters.")]})
        data.pop("area", None)  # a citizen's report is placed by its location only
        with transaction.atomic():
            matter, created = intake(
                request,
                data,
                channel=Channel.SNAP,
                reporter=request.user if request.user.is_authenticated else None,
                client_key="public",
            )
        body = tracking_body(Matter.objects.select_related("category").get(pk=matter.pk))
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

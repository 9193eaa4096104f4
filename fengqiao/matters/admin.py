"""Admin of the closed loop (ADR 0013): the loop can be run from here as from the API.

* **Matters** are read-only pages (timeline, dispatches, clocks, extensions, supervisions, photos as thumbnails)
  with a "take a step" form: the steps the engine allows the user now (`engine.allowed_actions`), a reason and the
  payload fields the chosen step needs, sent to `engine.perform`. A refusal is an error message and writes
  nothing. "Add matter" is intake through `services.submit` (walk-in, visit, patrol, hotline record …).
* **Rows of a matter** (timeline, dispatches, clocks, extensions, photos) are read-only and seen with the matter
  (``view_matter``); photos are decrypted and served by `AttachmentAdmin.image_view` after the scope check.
* **Tasks** are added and updated through `tasks.create_task` / `update_task`, **deadline policies** (national
  reference data, not scoped) through `tasks.save_policy`; supervisions are closed through `close_supervision`.

Personal data is masked (`core.masking`); the plaintext of a reporter is only given by the audited API call.
Everything scoped is filtered by the request's `Scope` (`ScopedAdminMixin`): an out-of-scope matter is "not found".

The matters services validate and write in one call, so the admin forms here call them as their last validation
step (`ServiceForm._post_clean`, inside the admin view's transaction): a refusal becomes a form error and nothing
is written; `save_model` only adopts the object the service saved.
"""

import datetime
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.accounts.models import GridAssignment
from fengqiao.accounts.scope import request_scope
from fengqiao.areas.models import Area
from fengqiao.audit.admin import ServiceModelAdmin, adopt
from fengqiao.core.admin import ReadOnlyAdminMixin
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.core.images import check_size
from fengqiao.core.masking import mask_name, mask_phone
from fengqiao.departments.models import Category, Department
from fengqiao.matters import attachments, engine, services
from fengqiao.matters import tasks as task_services
from fengqiao.matters.models import (
    Attachment,
    Channel,
    Clock,
    Complexity,
    DeadlinePolicy,
    Dispatch,
    Extension,
    Matter,
    MatterEvent,
    Rating,
    Supervision,
    Task,
    TimeUnit,
    Urgency,
)
from fengqiao.matters.workflows import WORKFLOWS, get_workflow

VIEW_MATTER = "matters.view_matter"
SUPERVISE = "matters.supervise_matter"
# Channels staff enter in the admin; citizen snap reports and Open311 clients come in through the API.
STAFF_CHANNELS = [
    Channel.WALK_IN,
    Channel.VISIT,
    Channel.PATROL,
    Channel.HOTLINE,
    Channel.POLICE,
    Channel.LEADER_MESSAGE,
    Channel.MAILBOX,
    Channel.ASSIGNED,
]


def _add_errors(form, exc: ValidationError, aliases=None):
    """A service's field-keyed error on the form: on the field of that name (or its alias), else on the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        field = (aliases or {}).get(field, field)
        target = field if field in form.fields else None
        for error in errors:
            form.add_error(target, error if target else f"{field}: {' '.join(error.messages)}")


def verbose(model, name):
    return model._meta.get_field(name).verbose_name


def state_label(matter):
    workflow = WORKFLOWS.get(matter.workflow)
    return workflow.state(matter.state).label if workflow and matter.state in workflow.by_state else matter.state


def due_label(moment, unit):
    """Day deadlines end at 24:00, stored as 00:00 of the next day (ADR 0011): show "end of <day>"."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    if unit != TimeUnit.HOURS and (local.hour, local.minute, local.second) == (0, 0, 0):
        day = (local - datetime.timedelta(days=1)).date()
        return gettext("end of %(day)s") % {"day": day.isoformat()}
    return local.strftime("%Y-%m-%d %H:%M")


# --- base classes ------------------------------------------------------------------------------------------


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False


class MatterRowsAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """Rows of a matter: scoped by the matter's area and seen by whoever may see matters."""

    admin_scope_path = "matter__area__path"
    list_select_related = ["matter"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_MATTER) or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return request.user.has_perm(VIEW_MATTER) or super().has_module_permission(request)


class MatterRowsInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_MATTER)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceForm(forms.ModelForm):
    """A model form whose service runs as the last validation step; `saved` is what it returned."""

    admin_request = None  # set per request by `ServiceFormAdmin.get_form`
    saved = None
    error_fields = {}  # the service's error keys that name a differently named form field

    def call_service(self, request):
        raise NotImplementedError

    def _post_clean(self):
        super()._post_clean()
        if self.errors or (self.instance.pk is not None and not self.has_changed()):
            return
        try:
            self.saved = self.call_service(self.admin_request)
        except ValidationError as exc:
            _add_errors(self, exc, self.error_fields)


class ServiceFormAdmin(ServiceModelAdmin):
    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.admin_request = request  # a new class per call (modelform_factory)
        return form

    def create_via_service(self, request, obj, form):
        return form.saved

    def update_via_service(self, request, obj, form):
        return form.saved or obj

    def save_model(self, request, obj, form, change):
        saved = getattr(form, "saved", None)
        if saved is not None:
            adopt(obj, saved)


# --- list filters ------------------------------------------------------------------------------------------


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        seen, out = set(), []
        for workflow in WORKFLOWS.values():
            for state in workflow.states:
                if state.code not in seen:
                    seen.add(state.code)
                    out.append((state.code, state.label))
        return out

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


class ActionFilter(admin.SimpleListFilter):
    """The steps of the workflows (a fixed list: no DISTINCT scan of the timeline)."""

    title = verbose(MatterEvent, "action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        out = {"submit": _("submitted")}
        for workflow in WORKFLOWS.values():
            out.update({t.action: t.label for t in workflow.transitions})
        return list(out.items())

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class WarningFilter(admin.SimpleListFilter):
    title = verbose(Matter, "warning")
    parameter_name = "warning"

    def lookups(self, request, model_admin):
        standing = Clock.Standing
        return [("none", standing.GREEN.label), ("yellow", standing.YELLOW.label), ("red", standing.RED.label)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(warning="")
        if value in ("yellow", "red"):
            return queryset.filter(warning=value)
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    """The category tree: first-level categories, and the children of the chosen one (with their subtrees)."""

    title = _("category")
    parameter_name = "category"

    def _chosen(self):
        value = self.value()
        return Category.objects.filter(code=value).first() if value else None

    def lookups(self, request, model_admin):
        chosen = self._chosen()
        rows = Category.objects.filter(parent__isnull=True)
        if chosen is not None:
            rows = rows | Category.objects.filter(code__in=chosen.ancestor_codes()) | chosen.children.all()
        return [(c.code, "\u3000" * (len(c.ancestor_codes()) - 1) + c.name) for c in rows.order_by("path")]

    def queryset(self, request, queryset):
        chosen = self._chosen()
        if self.value() and chosen is None:
            return queryset.none()
        return queryset.filter(category__path__startswith=chosen.path) if chosen else queryset


# --- the step form -----------------------------------------------------------------------------------------

# Payload fields each step uses beyond what it requires (the rest follows from `Transition.requires`).
STEP_FIELDS = {
    "accept": ("category", "complexity", "urgency"),
    "handle": ("evidence",),
    "resolve_on_spot": ("evidence",),
    "rate": ("comment",),
    "revisit": ("comment",),
    "request_extension": ("unit",),
    "supervise": ("due",),
}
REQUIRED_FIELDS = {"targets": ("lead", "assisting"), "amount": ("amount", "unit")}
TEXT_KEYS = ("category", "complexity", "urgency", "result", "reply", "rating", "comment", "parent", "unit")


def step_fields(transition):
    names = set(STEP_FIELDS.get(transition.action, ()))
    for key in transition.requires:
        names.update(REQUIRED_FIELDS.get(key, (key,)))
    names.discard("reason")
    return names


def _blank(label="---------"):
    return [("", label)]


class StepForm(forms.Form):
    """One step of a matter's workflow: the action, a reason, and the payload the action needs."""

    action = forms.ChoiceField(label=_("step"))
    reason = forms.CharField(label=_("reason"), required=False, max_length=4000, widget=forms.Textarea({"rows": 2}))
    lead = forms.ChoiceField(label=Dispatch.Role.LEAD.label, required=False)
    assisting = forms.MultipleChoiceField(
        label=Dispatch.Role.ASSIST.label, required=False, widget=forms.CheckboxSelectMultiple
    )
    category = forms.ChoiceField(label=verbose(Matter, "category"), required=False)
    complexity = forms.ChoiceField(
        label=verbose(Matter, "complexity"), required=False, choices=_blank() + Complexity.choices
    )
    urgency = forms.ChoiceField(label=verbose(Matter, "urgency"), required=False, choices=_blank() + Urgency.choices)
    result = forms.CharField(
        label=verbose(Matter, "result"), required=False, max_length=4000, widget=forms.Textarea({"rows": 3})
    )
    evidence = forms.MultipleChoiceField(
        label=_("evidence photos"), required=False, widget=forms.CheckboxSelectMultiple
    )
    reply = forms.CharField(
        label=verbose(Matter, "reply"), required=False, max_length=4000, widget=forms.Textarea({"rows": 3})
    )
    rating = forms.ChoiceField(label=verbose(Matter, "rating"), required=False, choices=_blank() + Rating.choices)
    comment = forms.CharField(label=verbose(Matter, "rating_comment"), required=False, max_length=4000)
    parent = forms.CharField(
        label=_("merge into"), required=False, max_length=20, help_text=_("tracking code of the open matter")
    )
    amount = forms.IntegerField(label=_("extension"), required=False, min_value=1, max_value=240)
    unit = forms.ChoiceField(
        label=verbose(Extension, "unit"), required=False, choices=TimeUnit.choices, initial=TimeUnit.WORKING_DAYS
    )
    decision = forms.ChoiceField(
        label=_("decision"), required=False, choices=[*_blank(), ("approve", _("approve")), ("refuse", _("refuse"))]
    )
    note = forms.CharField(label=_("note"), required=False, max_length=4000, widget=forms.Textarea({"rows": 2}))
    due = forms.DateField(
        label=_("due by the end of"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, matter, user, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.matter = matter
        self.workflow = get_workflow(matter.workflow)
        self.allowed = engine.allowed_actions(matter, actor=user, scope=scope)
        action = self.fields["action"]
        # Every step of the workflow is accepted here: the engine refuses the ones not allowed now, with its reason.
        action.choices = [(t.action, t.label) for t in self.workflow.transitions]
        action.widget.choices = [(t.action, t.label) for t in self.allowed]
        units = self.unit_choices(scope)
        self.fields["lead"].choices = _blank() + units
        self.fields["assisting"].choices = units
        self.fields["category"].choices = _blank() + [
            (c.code, "\u3000" * (len(c.ancestor_codes()) - 1) + c.name)
            for c in Category.objects.filter(active=True).order_by("path")
        ]
        self.fields["evidence"].choices = [
            (str(a.pk), f"#{a.pk} {a.original_name or a.sha256[:12]}") for a in matter.attachments.all()
        ]
        self.uses = {name: [] for name in self.fields}
        for transition in self.workflow.transitions:
            for name in step_fields(transition):
                if name in self.uses:
                    self.uses[name].append(transition.action)

    def unit_choices(self, scope):
        """Departments and grid members the engine accepts as targets, within reach of the handling centre."""
        handling = self.matter.handling_area
        departments = Department.objects.filter(active=True).select_related("area")
        departments = departments.filter(area__path__startswith=handling.path) | departments.filter(
            area__code__in=handling.ancestor_codes()
        )
        units = [
            (f"d{d.pk}", f"{d.name} ({d.area.name})")
            for d in departments.order_by("area__path", "code")
            if scope.covers(d.area) or handling.path.startswith(d.area.path)
        ]
        members = (
            GridAssignment.objects.current()
            .filter(user__is_active=True, grid__area__path__startswith=handling.path)
            .select_related("user", "grid__area")
            .order_by("grid__code", "user__username")
        )
        seen = set()
        for row in members:
            if row.user_id not in seen and scope.covers(row.grid.area):
                seen.add(row.user_id)
                name = row.user.get_full_name() or row.user.get_username()
                label = gettext("grid member %(name)s (%(grid)s)") % {"name": name, "grid": row.grid.code}
                units.append((f"u{row.user_id}", label))
        return units

    def rows(self):
        """(bound field, the actions that use it) for the template; "*" for the fields every step has."""
        return [(self[name], " ".join(self.uses[name]) or "*") for name in self.fields]

    def clean(self):
        cleaned = super().clean()
        lead = cleaned.get("lead")
        if lead and lead in (cleaned.get("assisting") or []):
            self.add_error("assisting", _("The lead unit cannot also be an assisting unit."))
        return cleaned

    def payload(self):
        data = self.cleaned_data
        names = step_fields(self.workflow.by_action[data["action"]])
        out = {}
        if "lead" in names and data.get("lead"):
            targets = [{**self._target(data["lead"]), "role": Dispatch.Role.LEAD}]
            targets += [{**self._target(value), "role": Dispatch.Role.ASSIST} for value in data.get("assisting") or []]
            out["targets"] = targets
        for key in TEXT_KEYS:
            if key in names and data.get(key):
                out[key] = data[key]
        for key in ("amount", "decision", "note"):
            if key in names and data.get(key) not in (None, ""):
                out[key] = data[key]
        if "due" in names and data.get("due"):
            out["due"] = data["due"].isoformat()
        if "evidence" in names and data.get("evidence"):
            out["evidence"] = [int(value) for value in data["evidence"]]
        return out

    @staticmethod
    def _target(value):
        return {"department": int(value[1:])} if value[0] == "d" else {"assignee": int(value[1:])}


# --- matters -----------------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic"}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, list | tuple) else [data]
        return [f for f in (super(PhotosField, self).clean(item, initial) for item in items) if f]


class IntakeForm(ServiceForm):
    """A matter taken in by staff (walk-in, visit, patrol, a hotline record …), through `services.submit`."""

    channel = forms.ChoiceField(label=_("channel"), choices=[(c.value, c.label) for c in STAFF_CHANNELS])
    title = forms.CharField(label=_("title"), required=False, max_length=200)
    area_code = forms.CharField(
        label=_("area (division code)"),
        required=False,
        max_length=15,
        help_text=_("where the matter belongs when no location is given"),
    )
    reporter_name = forms.CharField(label=verbose(Matter, "reporter_name"), required=False, max_length=60)
    reporter_phone = forms.CharField(label=verbose(Matter, "reporter_phone"), required=False, max_length=30)
    photos = PhotosField(label=_("photos"), required=False)
    client_token = forms.CharField(
        label=verbose(Matter, "client_token"), widget=forms.HiddenInput, required=False, max_length=64
    )
    error_fields = {"location": "lon", "area": "area_code", "photo": "photos"}

    class Meta:
        model = Matter
        fields = [
            "channel",
            "title",
            "description",
            "category",
            "urgency",
            "complexity",
            "lon",
            "lat",
            "address",
            "anonymous",
            "reporter_name",
            "reporter_phone",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client_token"].initial = uuid.uuid4().hex  # a second click on "save" is the same matter
        self.fields["category"].queryset = Category.objects.filter(active=True).order_by("path")
        self.created = True

    def clean_area_code(self):
        code = self.cleaned_data.get("area_code", "").strip()
        if not code:
            return None
        area = Area.objects.current().filter(code=code).first()
        if area is None:
            raise ValidationError(_("No current area has the code %(code)s.") % {"code": code})
        if not request_scope(self.admin_request).covers(area):
            raise ValidationError(_("%(code)s lies outside the areas you hold a role over.") % {"code": code})
        return area

    def call_service(self, request):
        data = self.cleaned_data
        photos = []
        for upload in data.get("photos") or []:
            try:
                check_size(upload.size, filename=upload.name)
            except ValidationError as exc:
                raise ValidationError({"photos": exc.messages}) from None
            photos.append((upload.name, upload.read()))
        matter, self.created = services.submit(
            actor=request.user,
            channel=data["channel"],
            title=data.get("title", ""),
            description=data.get("description", ""),
            category=data.get("category"),
            urgency=data.get("urgency") or None,
            complexity=data.get("complexity") or None,
            lon=data.get("lon"),
            lat=data.get("lat"),
            address=data.get("address", ""),
            area=data.get("area_code"),
            anonymous=data.get("anonymous", False),
            reporter_name=data.get("reporter_name", ""),
            reporter_phone=data.get("reporter_phone", ""),
            photos=photos,
            client_key=f"admin:{request.user.pk}",
            client_token=data.get("client_token", ""),
        )
        return matter


class MatterEventInline(MatterRowsInline):
    model = MatterEvent
    verbose_name_plural = MatterEvent._meta.verbose_name_plural
    fields = ["at", "action_label", "from_state", "to_state", "actor_label", "reason", "payload", "public"]

    @admin.display(description=verbose(MatterEvent, "action"))
    def action_label(self, obj):
        transition = get_workflow(obj.matter.workflow).by_action.get(obj.action)
        return transition.label if transition else obj.action


class DispatchInline(MatterRowsInline):
    model = Dispatch
    fields = ["department", "assignee", "role", "state", "dispatched_at", "acknowledge_due", "acknowledged_at"]


class ClockInline(MatterRowsInline):
    model = Clock
    fields = ["stage", "dispatch", "started_at", "due", "standing", "provisional", "paused_at", "stopped_at"]

    @admin.display(description=verbose(Clock, "due_at"))
    def due(self, obj):
        return due_label(obj.due_at, obj.unit)


class ExtensionInline(MatterRowsInline):
    model = Extension
    fields = ["requested_by", "requested_at", "amount", "unit", "reason", "state", "decided_by", "decision_note"]


class SupervisionInline(MatterRowsInline):
    model = Supervision
    fields = ["area", "supervisor", "automatic", "note", "due_at", "state", "closed_at"]


def thumbnail_html(attachment):
    image = reverse("admin:matters_attachment_image", args=[attachment.pk])
    thumb = reverse("admin:matters_attachment_thumbnail", args=[attachment.pk])
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" style="max-height:120px"></a>',
        image,
        thumb,
        attachment.original_name or attachment.sha256[:12],
    )


class AttachmentInline(MatterRowsInline):
    model = Attachment
    verbose_name_plural = _("photos")
    fields = ["thumbnail", "purpose", "original_name", "width", "height", "taken_at", "uploaded_at"]

    @admin.display(description=_("photo"))
    def thumbnail(self, obj):
        return thumbnail_html(obj)


@admin.register(Matter)
class MatterAdmin(ScopedAdminMixin, ServiceFormAdmin):
    admin_scope_path = "area__path"
    form = IntakeForm
    list_display = [
        "tracking_code",
        "title",
        "state_display",
        "channel",
        "category",
        "area",
        "handling_area",
        "warning_display",
        "supervised",
        "needs_triage",
        "submitted_at",
    ]
    list_filter = [StateFilter, "channel", WarningFilter, "supervised", "needs_triage", CategoryFilter]
    list_select_related = ["area", "handling_area", "category"]
    search_fields = ["=tracking_code", "title"]
    show_full_result_count = False
    inlines = [MatterEventInline, DispatchInline, ClockInline, ExtensionInline, SupervisionInline, AttachmentInline]
    add_fieldsets = [
        (None, {"fields": ["channel", "title", "description", "category", "urgency", "complexity"]}),
        (_("Where"), {"fields": ["lon", "lat", "address", "area_code"]}),
        (_("Reporter"), {"fields": ["anonymous", "reporter_name", "reporter_phone"]}),
        (_("Photos"), {"fields": ["photos", "client_token"]}),
    ]
    fieldsets = [
        (None, {"fields": ["tracking_code", "state_display", "channel", "title", "description", "category"]}),
        (None, {"fields": ["urgency", "complexity", "warning_display", "supervised", "provisional_deadline"]}),
        (
            _("Where"),
            {"fields": ["lon", "lat", "address", "grid", "area", "location_method", "needs_triage", "handling_area"]},
        ),
        (_("Reporter"), {"fields": ["anonymous", "masked_reporter_name", "masked_reporter_phone", "entered_by"]}),
        (
            _("Handling"),
            {
                "fields": [
                    "department",
                    "assignee",
                    "parent",
                    "escalations",
                    "result",
                    "reply",
                    "rating",
                    "rating_comment",
                    "reopened",
                    "solved_level",
                    "solved_on_spot",
                    "was_overdue",
                    "handled_on_time",
                ]
            },
        ),
        (
            _("Times"),
            {
                "fields": [
                    "submitted_at",
                    "accepted_at",
                    "dispatched_at",
                    "acknowledged_at",
                    "handled_at",
                    "replied_at",
                    "closed_at",
                ]
            },
        ),
    ]
    change_form_template = "admin/matters/matter/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("area", "handling_area", "category")

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False  # a matter changes only by the steps of its workflow (the step form below)

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, obj):
        return state_label(obj)

    @admin.display(description=verbose(Matter, "warning"), ordering="warning")
    def warning_display(self, obj):
        colours = {"yellow": "#b58900", "red": "#ba2121"}
        if not obj.warning:
            return "—"
        return format_html(
            '<strong style="color:{}">{}</strong>', colours[obj.warning], Clock.Standing(obj.warning).label
        )

    @admin.display(description=verbose(Matter, "reporter_name"))
    def masked_reporter_name(self, obj):
        return mask_name(obj.reporter_name) or "—"

    @admin.display(description=verbose(Matter, "reporter_phone"))
    def masked_reporter_phone(self, obj):
        return mask_phone(obj.reporter_phone) or "—"

    def get_search_results(self, request, queryset, search_term):
        term = "".join(search_term.split())
        if len(term) >= 7 and term.lstrip("+").replace("-", "").isdigit():
            try:
                return queryset.filter(reporter_phone_hash=lookup_hash(normalise_phone(term))), False
            except IdentityError:
                pass
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        step = path("<path:object_id>/step/", self.admin_site.admin_view(self.step_view), name=f"{info}_step")
        return [step, *super().get_urls()]

    def _step_form(self, request, matter, data=None):
        return StepForm(data, matter=matter, user=request.user, scope=request_scope(request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        matter = self.get_object(request, unquote(object_id))
        if matter is not None and self.has_view_permission(request, matter):
            extra_context.setdefault("step_form", self._step_form(request, matter))
            extra_context["step_url"] = reverse("admin:matters_matter_step", args=[matter.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def step_view(self, request, object_id):
        """POST: take one step through `engine.perform`. A refusal re-shows the page with the engine's reason."""
        matter = self.get_object(request, unquote(object_id))
        if matter is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, matter):
            raise PermissionDenied
        change_url = reverse("admin:matters_matter_change", args=[matter.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form = self._step_form(request, matter, request.POST)
        if form.is_valid():
            action = form.cleaned_data["action"]
            try:
                engine.perform(
                    matter,
                    action,
                    actor=request.user,
                    reason=form.cleaned_data.get("reason", ""),
                    payload=form.payload(),
                    scope=request_scope(request),
                )
            except engine.TransitionError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("%(step)s: done. The matter is now %(state)s.")
                    % {"step": form.workflow.by_action[action].label, "state": state_label(matter)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
        else:
            self.message_user(request, gettext("The step was not taken: correct the fields below."), messages.ERROR)
        # Show the page again with what was entered (the CSRF check has passed; the page itself is a read).
        request.method = "GET"
        return self.change_view(request, object_id, extra_context={"step_form": form})

    def response_add(self, request, obj, post_url_continue=None):
        matter = Matter.objects.select_related("area", "handling_area").get(pk=obj.pk)
        if getattr(obj, "_admin_created", True):
            message = gettext("Matter %(code)s was taken in; it is handled by %(level)s.")
        else:
            message = gettext("This form was sent before: it is matter %(code)s, handled by %(level)s.")
        self.message_user(
            request, message % {"code": matter.tracking_code, "level": matter.handling_area.name}, messages.SUCCESS
        )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:matters_matter_add"))
        if request_scope(request).covers(matter.area):
            return HttpResponseRedirect(reverse("admin:matters_matter_change", args=[matter.pk]))
        return HttpResponseRedirect(reverse("admin:matters_matter_changelist"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm  # the change page is read-only: no intake fields
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj._admin_created = getattr(form, "created", True)


# --- rows of a matter --------------------------------------------------------------------------------------


@admin.register(MatterEvent)
class MatterEventAdmin(MatterRowsAdmin):
    list_display = ["at", "matter", "action", "from_state", "to_state", "actor_label", "public"]
    list_filter = [ActionFilter, "public"]
    search_fields = ["=matter__tracking_code", "actor_label"]
    fields = ["matter", "at", "action", "from_state", "to_state", "actor_label", "reason", "payload", "public"]


@admin.register(Dispatch)
class DispatchAdmin(MatterRowsAdmin):
    list_display = ["matter", "department", "assignee", "role", "state", "dispatched_at", "acknowledge_due"]
    list_filter = ["state", "role"]
    list_select_related = ["matter", "department", "assignee"]
    search_fields = ["=matter__tracking_code", "department__name"]
    fields = [
        "matter",
        "department",
        "assignee",
        "role",
        "state",
        "dispatched_by",
        "dispatched_at",
        "acknowledge_due",
        "acknowledged_at",
        "ended_at",
        "note",
    ]


@admin.register(Clock)
class ClockAdmin(MatterRowsAdmin):
    list_display = ["matter", "stage", "started_at", "due", "standing", "provisional", "paused_at", "stopped_at"]
    list_filter = ["stage", "standing", "provisional", ("stopped_at", admin.EmptyFieldListFilter)]
    search_fields = ["=matter__tracking_code"]
    fields = [
        "matter",
        "stage",
        "dispatch",
        "started_at",
        "amount",
        "unit",
        "warn_fraction",
        "due",
        "warn_at",
        "provisional",
        "paused_at",
        "stopped_at",
        "standing",
        "warned_at",
        "overdue_at",
        "extended",
    ]

    @admin.display(description=verbose(Clock, "due_at"), ordering="due_at")
    def due(self, obj):
        return due_label(obj.due_at, obj.unit)


@admin.register(Extension)
class ExtensionAdmin(MatterRowsAdmin):
    list_display = ["matter", "requested_by", "requested_at", "amount", "unit", "state", "decided_at"]
    list_filter = ["state"]
    search_fields = ["=matter__tracking_code"]
    fields = [
        "matter",
        "requested_by",
        "requested_at",
        "amount",
        "unit",
        "reason",
        "state",
        "decided_by",
        "decided_at",
        "decision_note",
    ]


@admin.register(Attachment)
class AttachmentAdmin(MatterRowsAdmin):
    """Photos are stored encrypted; `image_view` decrypts one for a user whose scope covers its matter."""

    list_display = ["thumbnail", "matter", "purpose", "original_name", "content_type", "size", "uploaded_at"]
    list_filter = ["purpose"]
    search_fields = ["=matter__tracking_code", "original_name", "=sha256"]
    fields = [
        "thumbnail",
        "matter",
        "purpose",
        "original_name",
        "content_type",
        "size",
        "width",
        "height",
        "sha256",
        "uploaded_by",
        "uploaded_at",
        "taken_at",
        "gps_lon",
        "gps_lat",
    ]

    @admin.display(description=_("photo"))
    def thumbnail(self, obj):
        return thumbnail_html(obj)

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view(self.image_view)
        return [
            path("<path:object_id>/image/", view, name=f"{info}_image"),
            path("<path:object_id>/thumbnail/", view, {"thumbnail": True}, name=f"{info}_thumbnail"),
            *super().get_urls(),
        ]

    def image_view(self, request, object_id, thumbnail=False):
        attachment = self.get_object(request, unquote(object_id))
        if attachment is None:
            raise Http404(gettext("No such photo."))
        if not self.has_view_permission(request, attachment):
            raise PermissionDenied
        content = attachments.load(attachment, thumbnail=thumbnail)
        response = HttpResponse(
            content, content_type=attachment.thumbnail_type if thumbnail else attachment.content_type
        )
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- supervision, tasks, deadline policies -----------------------------------------------------------------


@admin.register(Supervision)
class SupervisionAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """Opened by a matter's "supervise" step (or a task's, through the API); closed here by the supervising level.
    Listed, as in the API, for the supervising level and for the areas of the matter or task supervised."""

    admin_scope_path = "area__path"
    list_display = ["created_at", "matter", "task", "area", "supervisor", "automatic", "state", "due_at", "closed_at"]
    list_filter = ["state", "automatic"]
    list_select_related = ["matter", "task", "area", "supervisor"]
    search_fields = ["=matter__tracking_code", "task__title", "note"]
    fields = ["matter", "task", "area", "supervisor", "automatic", "note", "due_at", "state", "closed_at"]
    actions = ["close"]

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        scope = request_scope(request)
        if scope.unrestricted:
            return queryset
        if scope.is_empty:
            return queryset.none()
        return queryset.filter(scope.q("area__path") | scope.q("matter__area__path") | scope.q("task__area__path"))

    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.has_perm(VIEW_MATTER) or user.has_perm(SUPERVISE) or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request) or super().has_module_permission(request)

    def has_close_permission(self, request):
        return request.user.has_perm(SUPERVISE)

    @admin.action(description=_("Close the selected supervisions"), permissions=["close"])
    def close(self, request, queryset):
        scope = request_scope(request)
        done = skipped = 0
        for supervision in queryset.select_related("area", "matter"):
            if supervision.state == Supervision.State.DONE or not scope.covers(supervision.area):
                skipped += 1
                continue
            task_services.close_supervision(supervision, actor=request.user)
            done += 1
        self.message_user(request, ngettext("%d supervision closed.", "%d supervisions closed.", done) % done)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%d left as it was: closed already, or supervised by another level.",
                    "%d left as they were: closed already, or supervised by another level.",
                    skipped,
                )
                % skipped,
                messages.WARNING,
            )


class TaskForm(ServiceForm):
    area_code = forms.CharField(label=_("area (division code)"), max_length=15)
    matter_code = forms.CharField(label=_("matter (tracking code)"), required=False, max_length=12)
    error_fields = {"area": "area_code", "matter": "matter_code"}

    class Meta:
        model = Task
        fields = ["title", "description", "parent", "department", "assignee", "due_at"]

    def call_service(self, request):
        data = self.cleaned_data
        return task_services.create_task(
            actor=request.user,
            scope=request_scope(request),
            area=data["area_code"].strip(),
            title=data["title"],
            due_at=data["due_at"],
            parent=data["parent"].pk if data.get("parent") else None,
            matter=data.get("matter_code", "").strip(),
            description=data.get("description", ""),
            department=data["department"].pk if data.get("department") else None,
            assignee=data["assignee"].pk if data.get("assignee") else None,
        )


class TaskProgressForm(ServiceForm):
    class Meta:
        model = Task
        fields = ["progress", "progress_note", "state", "due_at"]

    def call_service(self, request):
        changes = {name: self.cleaned_data[name] for name in self.changed_data if name in self.Meta.fields}
        return task_services.update_task(Task.objects.get(pk=self.instance.pk), actor=request.user, **changes)


class SubtaskInline(admin.TabularInline):
    model = Task
    fk_name = "parent"
    verbose_name_plural = _("subtasks")
    fields = readonly_fields = ["title", "department", "assignee", "due_at", "progress", "state"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TaskSupervisionInline(MatterRowsInline):
    model = Supervision
    fk_name = "task"
    fields = ["area", "supervisor", "note", "due_at", "state", "closed_at"]


@admin.register(Task)
class TaskAdmin(ScopedAdminMixin, ServiceFormAdmin):
    admin_scope_path = "area__path"
    list_display = ["title", "area", "department", "assignee", "due_at", "progress", "state", "overdue", "parent"]
    list_filter = ["state", "overdue", ("parent", admin.EmptyFieldListFilter)]
    list_select_related = ["area", "department", "assignee", "parent"]
    search_fields = ["title", "=matter__tracking_code"]
    raw_id_fields = ["assignee"]
    show_full_result_count = False
    inlines = [SubtaskInline, TaskSupervisionInline]
    readonly = ["area", "parent", "matter", "title", "description", "department", "assignee", "created_by", "done_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TaskProgressForm if obj is not None else TaskForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fields = ["area_code", "title", "description", "parent", "matter_code", "department", "assignee", "due_at"]
        else:
            fields = [*self.readonly, "overdue", "due_at", "progress", "progress_note", "state"]
        return [(None, {"fields": fields})]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly, "overdue"] if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope = request_scope(request)
        if db_field.name == "parent":
            open_tasks = Task.objects.filter(parent__isnull=True, state=Task.State.OPEN).select_related("area")
            kwargs["queryset"] = scope.filter(open_tasks, "area__path")
        elif db_field.name == "department":
            departments = Department.objects.filter(active=True).select_related("area")
            if not scope.unrestricted:
                above = {code for p in scope.paths for code in p.strip("/").split("/")}
                departments = scope.filter(departments, "area__path") | departments.filter(area__code__in=above)
            kwargs["queryset"] = departments.order_by("area__path", "code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class DeadlinePolicyForm(ServiceForm):
    workflow = forms.ChoiceField(label=verbose(DeadlinePolicy, "workflow"))

    class Meta:
        model = DeadlinePolicy
        fields = ["workflow", "stage", "category", "complexity", "channel", "amount", "unit", "warn_fraction", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workflow"].choices = [(name, name) for name in WORKFLOWS]

    def call_service(self, request):
        current = DeadlinePolicy.objects.get(pk=self.instance.pk) if self.instance.pk else None
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        return task_services.save_policy(current, actor=request.user, **data)


@admin.register(DeadlinePolicy)
class DeadlinePolicyAdmin(ServiceFormAdmin):
    """National reference data, not scoped (like categories): edited by system administrators."""

    form = DeadlinePolicyForm
    list_display = ["workflow", "stage", "category", "complexity", "channel", "amount", "unit", "warn_fraction", "note"]
    list_filter = ["workflow", "stage", "unit", "channel"]
    list_select_related = ["category"]
    search_fields = ["note", "category__code", "category__name"]
    raw_id_fields = ["category"]

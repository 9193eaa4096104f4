"""The closed loop (闭环): matters, their timeline, dispatches, deadline clocks, supervision and tasks (ADR 0013).

A `Matter` moves through the states of its workflow (``workflow``: "matter" now; mediation cases and petitions
declare their own tables in `fengqiao.matters.workflows` and reuse every model here). Each move is a
`MatterEvent` row and an audit event. Deadlines are `Clock` rows computed from `DeadlinePolicy` rows (data an
admin edits) with the working-day calendar (`fengqiao.workdays`); the worker's sweep turns them yellow and red.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _

from fengqiao.areas.models import Area, Grid
from fengqiao.core.crypto import EncryptedTextField
from fengqiao.core.models import TimeStampedModel
from fengqiao.departments.models import Category, Department

# Crockford's base-32 alphabet without I, L, O, U: easy to read out on the phone.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_tracking_code() -> str:
    """A public tracking code: "FQ" + 10 random characters (50 bits): unguessable, short enough to read out."""
    return "FQ" + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))


# The duplicate finder's spatial index (ADR 0019): a point's cell in a fixed lon/lat grid of 1/CELLS_PER_DEGREE
# degrees (0.005°: ~550 m north-south, ~510 m east-west in Guangdong), cell = row × CELL_ROW + column.
CELLS_PER_DEGREE = 200
CELL_ROW = 100_000


def place_cell(lon: float, lat: float) -> int:
    """The cell of a point, computed exactly as the database computes `PlaceCell` (the same float operations)."""
    return int((lat + 90) * CELLS_PER_DEGREE) * CELL_ROW + int((lon + 180) * CELLS_PER_DEGREE)


class PlaceCell(Func):
    """`place_cell` in SQL, for the expression index ``matter_place`` and the queries that read it.

    The database computes it for every row whoever writes it (intake, the importer's raw INSERT, a migration), so
    no writer has to. Both offsets make the operands non-negative, so truncation (SQLite's CAST) is the floor."""

    output_field = models.BigIntegerField()
    arity = 2

    def as_sql(self, compiler, connection, **extra_context):
        (lon, lon_params), (lat, lat_params) = (compiler.compile(e) for e in self.get_source_expressions())
        whole = "CAST(FLOOR({}) AS BIGINT)" if connection.vendor == "postgresql" else "CAST({} AS INTEGER)"
        row = whole.format(f"(({lat}) + 90) * {CELLS_PER_DEGREE}")
        column = whole.format(f"(({lon}) + 180) * {CELLS_PER_DEGREE}")
        return f"({row} * {CELL_ROW} + {column})", [*lat_params, *lon_params]


class Channel(models.TextChoices):
    SNAP = "snap", _("citizen snap report")
    HOTLINE = "12345", _("12345 hotline")
    POLICE = "110", _("110 non-police transfer")
    LEADER_MESSAGE = "leader_message", _("message to a leader")
    MAILBOX = "mailbox", _("department-head mailbox")
    PATROL = "patrol", _("grid patrol finding")
    VISIT = "visit", _("visit finding")
    WALK_IN = "walk_in", _("walk-in at a centre")
    ASSIGNED = "assigned", _("assigned from above")
    OPEN311 = "open311", _("Open311 client")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")
    CRITICAL = "critical", _("critical")


class Complexity(models.TextChoices):
    SIMPLE = "simple", _("simple")
    COMPLEX = "complex", _("complex")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("satisfied")
    BASICALLY = "basically", _("basically satisfied")
    UNSATISFIED = "unsatisfied", _("unsatisfied")


class Stage(models.TextChoices):
    """What a clock measures. A deadline policy gives each stage its time limit."""

    ACCEPT = "accept", _("accept")
    DISPATCH = "dispatch", _("dispatch")
    ACKNOWLEDGE = "acknowledge", _("acknowledge")
    HANDLE = "handle", _("handle")
    REPLY = "reply", _("reply")
    REVISIT = "revisit", _("revisit")
    SUPERVISION = "supervision", _("supervision")


class TimeUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    DAYS = "days", _("calendar days")
    WORKING_DAYS = "working_days", _("working days")
    MONTHS = "months", _("months")


class Matter(TimeStampedModel):
    """One request, report or finding, from intake to rating (事项 / 工单)."""

    workflow = models.CharField(_("workflow"), max_length=20, default="matter", db_index=True)
    tracking_code = models.CharField(_("tracking code"), max_length=12, unique=True, default=new_tracking_code)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, db_index=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    complexity = models.CharField(_("complexity"), max_length=10, choices=Complexity.choices, default=Complexity.SIMPLE)

    # Where: WGS84 point and/or address text; the grid and area found by `locate`.
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT, related_name="matters"
    )
    # (no index of its own: the (area, submitted_at) and statistics indexes lead with it)
    area = models.ForeignKey(
        Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="matters", db_index=False
    )
    location_method = models.CharField(_("located by"), max_length=12, blank=True)
    needs_triage = models.BooleanField(
        _("needs manual triage"), default=False, help_text=_("the location fell outside every grid")
    )
    # Who owns the matter now: the centre of this area (village → town → county → city as it is escalated).
    handling_area = models.ForeignKey(
        Area, verbose_name=_("handling level"), on_delete=models.PROTECT, related_name="handled_matters"
    )
    escalations = models.PositiveSmallIntegerField(_("escalations"), default=0)

    # Who reported it (personal data: encrypted, masked by default, PIPL).
    anonymous = models.BooleanField(_("anonymous"), default=False)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_matters",
    )
    reporter_name = EncryptedTextField(_("reporter name"), blank=True)
    reporter_phone = EncryptedTextField(_("reporter phone"), blank=True)
    reporter_phone_hash = models.CharField(_("reporter phone hash"), max_length=64, blank=True, db_index=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="entered_matters",
    )

    # Idempotent intake: the same (client_key, client_token) twice is one matter.
    client_key = models.CharField(_("client"), max_length=80, blank=True, editable=False)
    client_token = models.CharField(_("client token"), max_length=64, blank=True)
    # A record of an outside system (12345 work-order number, 110 incident number).
    source = models.CharField(_("source"), max_length=16, blank=True)
    external_id = models.CharField(_("external id"), max_length=64, blank=True)

    state = models.CharField(_("state"), max_length=20)  # indexed by (state, submitted_at)
    state_changed_at = models.DateTimeField(_("state changed at"))
    parent = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    # The lead department or grid member now working on it (copied from the lead dispatch, for lists and stats).
    department = models.ForeignKey(  # indexed by (department, submitted_at)
        Department,
        verbose_name=_("lead department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned grid member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_matters",
    )

    submitted_at = models.DateTimeField(_("submitted at"), db_index=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    result = models.TextField(_("handling result"), blank=True)
    reply = models.TextField(_("reply to the reporter"), blank=True)
    rating = models.CharField(_("rating"), max_length=12, choices=Rating.choices, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    reopened = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    # Filled when it is handled: the level of the area whose centre owned it (the "小事不出村" figure).
    solved_level = models.PositiveSmallIntegerField(_("solved at level"), null=True, blank=True)
    solved_on_spot = models.BooleanField(_("solved on the spot"), default=False)
    # Deadline standing, kept by the clocks: "" (fine), "yellow" (80% used), "red" (overdue).
    warning = models.CharField(_("warning"), max_length=6, blank=True, db_index=True)
    was_overdue = models.BooleanField(_("was overdue"), default=False)
    handled_on_time = models.BooleanField(_("handled on time"), null=True, blank=True)
    # The response rate (响应率) of its lead dispatches with an acknowledgement deadline, kept by the engine in the
    # transaction of every step (`engine.count_responses`), so the statistics need not join the dispatches:
    # due for good (acknowledged, or ended unacknowledged after the deadline), acknowledged in time, the deadline
    # of the one awaiting acknowledgement (due once it passes), and whether any of these went to another unit
    # than the current lead (grouping by department then counts those for the unit they went to).
    response_due = models.PositiveIntegerField(_("lead dispatches due"), default=0, editable=False)
    response_in_time = models.PositiveIntegerField(_("lead dispatches acknowledged in time"), default=0, editable=False)
    response_pending_due = models.DateTimeField(
        _("pending lead dispatch to acknowledge by"), null=True, blank=True, editable=False
    )
    response_elsewhere = models.BooleanField(_("lead dispatches to other units"), default=False, editable=False)
    supervised = models.BooleanField(_("supervised"), default=False)
    provisional_deadline = models.BooleanField(
        _("provisional deadline"), default=False, help_text=_("a deadline ran into a year the holiday calendar lacks")
    )

    class Meta:
        verbose_name = _("matter")
        verbose_name_plural = _("matters")
        ordering = ["-submitted_at", "-id"]
        permissions = [
            ("triage_matter", _("Can accept, dispatch, verify, reply to and close matters (centre)")),
            ("work_matter", _("Can acknowledge, handle and return matters dispatched to one")),
            ("supervise_matter", _("Can supervise matters and tasks")),
            ("unmask_reporter", _("Can see a matter's reporter unmasked (audited)")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client_key", "client_token"],
                condition=~models.Q(client_token=""),
                name="matter_client_token",
            ),
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~models.Q(external_id=""), name="matter_source_record"
            ),
        ]
        indexes = [
            # Lookups by client token and by source record (the unique constraints are partial indexes, which
            # SQLite does not use for a plain equality lookup).
            models.Index(fields=["client_key", "client_token"], name="matter_client_lookup"),
            models.Index(fields=["source", "external_id"], name="matter_source_lookup"),
            models.Index(fields=["area", "submitted_at"]),
            # Covering index of the statistics (matters.stats; ADR 0013, statistics): answered from the index.
            models.Index(
                fields=[
                    *("area", "submitted_at", "state", "rating", "warning", "solved_level", "handled_on_time"),
                    *("solved_on_spot", "was_overdue", "accepted_at", "handled_at"),
                    *("response_due", "response_in_time", "response_pending_due"),
                    *("grid", "department", "category", "handling_area", "workflow"),
                ],
                name="matter_stats",
            ),
            # The few matters whose lead dispatches went to several units (statistics grouped by department).
            models.Index(
                fields=["area", "submitted_at", "department", "workflow"],
                condition=models.Q(response_elsewhere=True),
                name="matter_response_elsewhere",
            ),
            models.Index(fields=["state", "submitted_at"]),
            models.Index(fields=["department", "submitted_at"]),
            # Duplicate suggestions (ADR 0019): the matters of a few neighbouring cells in a time window, with the
            # point in the index so that the bounding box is checked before a row is read.
            models.Index(
                PlaceCell(F("lon"), F("lat")),
                F("submitted_at"),
                F("lon"),
                F("lat"),
                condition=Q(lon__isnull=False, lat__isnull=False),
                name="matter_place",
            ),
        ]

    def __str__(self):
        return f"{self.tracking_code} {self.title}"


class MatterEvent(models.Model):
    """One row of a matter's timeline: a transition (or a note) with who, when, from, to, reason and payload."""

    matter = models.ForeignKey(Matter, verbose_name=_("matter"), on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=32)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(_("actor"), max_length=150)
    at = models.DateTimeField(_("at"), db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    public = models.BooleanField(_("shown to the reporter"), default=False)

    class Meta:
        verbose_name = _("matter event")
        verbose_name_plural = _("matter timeline")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.matter_id} {self.action} {self.from_state}→{self.to_state}"


class Dispatch(models.Model):
    """The matter sent point-to-point to a department or a grid member (派单); several for 吹哨报到 (JM2)."""

    class Role(models.TextChoices):
        LEAD = "lead", _("lead unit (主办)")
        ASSIST = "assist", _("assisting unit (协办)")

    class State(models.TextChoices):
        PENDING = "pending", _("awaiting acknowledgement")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RETURNED = "returned", _("returned")
        WITHDRAWN = "withdrawn", _("withdrawn")
        DONE = "done", _("done")

    matter = models.ForeignKey(Matter, verbose_name=_("matter"), on_delete=models.CASCADE, related_name="dispatches")
    department = models.ForeignKey(
        Department, verbose_name=_("department"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("grid member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.LEAD)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dispatched by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dispatched_at = models.DateTimeField(_("dispatched at"))
    acknowledge_due = models.DateTimeField(_("acknowledge by"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("dispatch")
        verbose_name_plural = _("dispatches")
        ordering = ["dispatched_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(department__isnull=False) | models.Q(assignee__isnull=False),
                name="dispatch_has_target",
            )
        ]
        indexes = [
            models.Index(
                fields=["matter", "role", "acknowledge_due", "acknowledged_at", "ended_at", "department"],
                name="dispatch_stats",
            )
        ]

    def __str__(self):
        return f"{self.matter_id} → {self.department or self.assignee}"

    @property
    def active(self):
        return self.state in (self.State.PENDING, self.State.ACKNOWLEDGED)


class DeadlinePolicy(TimeStampedModel):
    """A time limit for one stage of a workflow, for matters of a category × complexity × channel (blank: any).

    The most specific row wins: a category (or its nearest ancestor) beats "any category", a complexity beats
    "any", a channel beats "any". Admins edit these; `seed_policies` writes the defaults of domain.md.
    """

    workflow = models.CharField(_("workflow"), max_length=20, default="matter")
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    complexity = models.CharField(_("complexity"), max_length=10, choices=Complexity.choices, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    amount = models.PositiveIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=14, choices=TimeUnit.choices)
    warn_fraction = models.FloatField(
        _("warn at"), default=0.8, help_text=_("share of the time after which it turns yellow")
    )
    note = models.CharField(_("source or note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("deadline policy")
        verbose_name_plural = _("deadline policies")
        ordering = ["workflow", "stage", "category__path", "complexity", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "stage", "category", "complexity", "channel"],
                condition=models.Q(category__isnull=False),
                name="deadline_policy_key",
            ),
            models.UniqueConstraint(
                fields=["workflow", "stage", "complexity", "channel"],
                condition=models.Q(category__isnull=True),
                name="deadline_policy_key_any_category",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="deadline_policy_positive"),
            models.CheckConstraint(
                condition=models.Q(warn_fraction__gt=0) & models.Q(warn_fraction__lt=1), name="deadline_policy_warn"
            ),
        ]

    def __str__(self):
        return f"{self.workflow}/{self.stage}: {self.amount} {self.get_unit_display()}"


class Clock(models.Model):
    """A running deadline of one stage of a matter (or of a dispatch's acknowledgement, or a supervision)."""

    class Standing(models.TextChoices):
        GREEN = "", _("in time")
        YELLOW = "yellow", _("warning")
        RED = "red", _("overdue")

    matter = models.ForeignKey(Matter, verbose_name=_("matter"), on_delete=models.CASCADE, related_name="clocks")
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices)
    dispatch = models.ForeignKey(
        Dispatch, verbose_name=_("dispatch"), null=True, blank=True, on_delete=models.CASCADE, related_name="clocks"
    )
    started_at = models.DateTimeField(_("started at"))
    amount = models.PositiveIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=14, choices=TimeUnit.choices)
    warn_fraction = models.FloatField(_("warn at"), default=0.8)
    due_at = models.DateTimeField(_("due at"), db_index=True)
    warn_at = models.DateTimeField(_("warn at"), db_index=True)
    provisional = models.BooleanField(_("provisional"), default=False)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    standing = models.CharField(_("standing"), max_length=6, choices=Standing.choices, blank=True, default="")
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("overdue at"), null=True, blank=True)
    extended = models.PositiveSmallIntegerField(_("times extended"), default=0)

    class Meta:
        verbose_name = _("deadline clock")
        verbose_name_plural = _("deadline clocks")
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["stopped_at", "warn_at"], name="clock_sweep_warn"),
            models.Index(fields=["stopped_at", "due_at"], name="clock_sweep_due"),
        ]

    def __str__(self):
        return f"{self.matter_id} {self.stage} due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def running(self):
        return self.stopped_at is None and self.paused_at is None


class Extension(models.Model):
    """A request to extend the handling deadline (延期), decided by the centre."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")

    matter = models.ForeignKey(Matter, verbose_name=_("matter"), on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    amount = models.PositiveIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=14, choices=TimeUnit.choices, default=TimeUnit.WORKING_DAYS)
    reason = models.TextField(_("reason"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        ordering = ["requested_at", "id"]

    def __str__(self):
        return f"{self.matter_id} +{self.amount} {self.unit} ({self.state})"


class Attachment(models.Model):
    """A photo of a matter (report or evidence). Checked by content, EXIF read then stripped, stored encrypted."""

    class Purpose(models.TextChoices):
        REPORT = "report", _("report photo")
        EVIDENCE = "evidence", _("evidence of handling")

    matter = models.ForeignKey(Matter, verbose_name=_("matter"), on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        MatterEvent, verbose_name=_("timeline row"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(_("kind of photo"), max_length=10, choices=Purpose.choices, default=Purpose.REPORT)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    original_name = models.CharField(_("original name"), max_length=200, blank=True)
    content_type = models.CharField(_("content type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # Encrypted on disk (Fernet, the field keys): the clean image and its thumbnail.
    blob = models.CharField(_("stored file"), max_length=200, editable=False)
    thumbnail_blob = models.CharField(_("stored thumbnail"), max_length=200, editable=False)
    thumbnail_type = models.CharField(_("thumbnail type"), max_length=40)
    gps_lon = models.FloatField(_("photo longitude"), null=True, blank=True)
    gps_lat = models.FloatField(_("photo latitude"), null=True, blank=True)
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return f"{self.matter_id} {self.original_name or self.sha256[:12]}"


class Supervision(TimeStampedModel):
    """A leader's supervision (督办) of a matter or a task, with a note and a deadline (MM2, JM3)."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        OVERDUE = "overdue", _("overdue")

    matter = models.ForeignKey(
        Matter, verbose_name=_("matter"), null=True, blank=True, on_delete=models.CASCADE, related_name="supervisions"
    )
    task = models.ForeignKey(
        "Task", verbose_name=_("task"), null=True, blank=True, on_delete=models.CASCADE, related_name="supervisions"
    )
    area = models.ForeignKey(Area, verbose_name=_("supervising level"), on_delete=models.PROTECT, related_name="+")
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("supervisor"), null=True, blank=True, on_delete=models.SET_NULL
    )
    automatic = models.BooleanField(_("automatic"), default=False, help_text=_("opened by the deadline sweep"))
    note = models.TextField(_("note"))
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN, db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("supervision")
        verbose_name_plural = _("supervisions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(matter__isnull=False) | models.Q(task__isnull=False), name="supervision_has_target"
            )
        ]

    def __str__(self):
        return f"{self.matter or self.task}: {self.note[:30]}"


class Task(TimeStampedModel):
    """A task (工作任务) with a responsible unit, a deadline, subtasks and progress, tracked to completion (JM3)."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="tasks")
    parent = models.ForeignKey(
        "self", verbose_name=_("parent task"), null=True, blank=True, on_delete=models.CASCADE, related_name="subtasks"
    )
    matter = models.ForeignKey(
        Matter, verbose_name=_("matter"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("responsible unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(_("due at"), db_index=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    progress_note = models.TextField(_("progress note"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    overdue = models.BooleanField(_("overdue"), default=False)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="task_progress_percent"),
        ]

    def __str__(self):
        return self.title

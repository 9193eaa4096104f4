"""POST servicerequestupdates: a client's update to one of its requests (FixMyStreet's extension; ADR 0014,
amendment 2).

An update is a step of the closed loop, taken through `matters.engine.perform` like any other (its rules, clocks,
timeline row and audit event), never a write beside it. The key that submitted a request holds the reporter's
part in it, as the tracking code does on the tracking page: an update from that key is the reporter's step
(``via_tracking``), from any other key it is refused (403). What the step is depends on where the matter stands:

* waiting for the reporter → ``supplement`` (the reporter answers; the clocks run again);
* replied, and the client says ``OPEN`` or ``REOPEN`` (the user is not satisfied) → ``reopen`` (重办; the engine
  refuses past its limit of reopenings);
* at any other open stage → ``comment`` (the reporter's remark: no state change; the unit or the centre is told);
* closed, declined or merged → refused (400).

The description is the step's reason (internal: GETs show the step's label only). The client's update id makes a
retry safe: the same id again for the same request answers with the first update and writes nothing. Who wrote
the update (name, e-mail, phone) is kept encrypted on the `ServiceRequestUpdate` row and never returned.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.matters import engine
from fengqiao.matters.models import Matter
from fengqiao.matters.workflows import REPLIED, WAITING, get_workflow
from fengqiao.open311.catalogue import parse_when
from fengqiao.open311.models import ServiceRequest, ServiceRequestUpdate
from fengqiao.open311.selectors import number
from fengqiao.open311.services import (
    MAX_DESCRIPTION,
    Refused,
    email_param,
    media_urls,
    one,
    plain_param,
    refused_by,
    reporter_name,
    required,
    too_long,
)

# FixMyStreet's statuses (upper case; a client may send them in lower case).
STATUSES = (
    *("OPEN", "CLOSED", "FIXED", "IN_PROGRESS", "ACTION_SCHEDULED", "INVESTIGATING", "DUPLICATE"),
    *("NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION", "INTERNAL_REFERRAL", "FOR_TRIAGE", "CANCELLED", "REOPEN"),
)
NOT_SATISFIED = {"OPEN", "REOPEN"}
MAX_UPDATE_ID = 100


def _request(data, api_key):
    """The published request named by service_request_id, and the key's right to update it."""
    from fengqiao.open311.selectors import no_request, publish_channels

    code = one(data, "service_request_id")
    if code is None:
        raise Refused(400, required("service_request_id"))
    pk = number(code) or -1
    request = (
        ServiceRequest.objects.select_related("matter")
        .filter(matter_id=pk, matter__channel__in=publish_channels())
        .first()
    )
    if request is None:
        raise Refused(404, no_request(code))
    if request.api_key_id != api_key.pk:
        raise Refused(403, _("service request %(id)s was not submitted with this api_key") % {"id": code})
    return request


def _earlier(api_key, update_id, request):
    """The update this key already posted with `update_id` (a retry), or None; another request's is refused."""
    earlier = ServiceRequestUpdate.objects.filter(api_key=api_key, update_id=update_id).first()
    if earlier is not None and earlier.request_id != request.pk:
        raise Refused(
            400,
            _("update_id %(update_id)s was already used for service request %(id)s")
            % {"update_id": update_id, "id": earlier.request.matter_id},
        )
    return earlier


def _action(matter, status):
    """The engine step an update takes where the matter stands, or Refused(400)."""
    if matter.state == WAITING:
        return "supplement"
    if matter.state == REPLIED and status in NOT_SATISFIED:
        return "reopen"
    state = get_workflow(matter.workflow).state(matter.state)
    if not state.terminal:
        return "comment"
    raise Refused(
        400,
        _("service request %(id)s takes no update now: it is %(state)s.") % {"id": matter.pk, "state": state.label},
    )


def _fields(data):
    """Everything of the update but the request, checked; Refused(400) naming the first problem."""
    update_id = one(data, "update_id")
    if update_id is None:
        raise Refused(400, required("update_id"))
    if len(update_id) > MAX_UPDATE_ID:
        raise Refused(400, too_long("update_id", MAX_UPDATE_ID))
    status = (one(data, "status") or "").upper()
    if not status:
        raise Refused(400, required("status"))
    if status not in STATUSES:
        raise Refused(400, _("status must be one of %(statuses)s") % {"statuses": ", ".join(STATUSES)})
    when = one(data, "updated_datetime")
    if when is None:
        raise Refused(400, required("updated_datetime"))
    updated_at = parse_when(when)
    if updated_at is None:
        raise Refused(
            400,
            _("%(param)s is not a W3C date and time (e.g. 2024-01-01T00:00:00+08:00)") % {"param": "updated_datetime"},
        )
    description = plain_param(data, "description", maximum=MAX_DESCRIPTION)
    if description is None:
        raise Refused(400, required("description"))
    urls = media_urls(data)
    phone = one(data, "phone") or ""
    if phone:
        try:
            phone = normalise_phone(phone)
        except IdentityError as exc:
            raise Refused(400, _("%(param)s: %(problem)s") % {"param": "phone", "problem": exc}) from None
    return {
        "update_id": update_id,
        "status": status,
        "client_updated_at": updated_at,
        "description": description,
        "media_url": urls[0] if urls else "",
        "email": email_param(data),
        "phone": phone,
        "author_name": reporter_name(data),
    }


def post_update(*, api_key, data, now=None):
    """Take a POST servicerequestupdates in; returns (ServiceRequestUpdate, created). Nothing is written when it
    is refused (`Refused`: 400, 403, 404)."""
    request = _request(data, api_key)
    update_id = one(data, "update_id")
    earlier = _earlier(api_key, update_id, request) if update_id else None
    if earlier is not None:
        return earlier, False
    fields = _fields(data)
    _action(request.matter, fields["status"])  # refuse before locking: the clearer message
    now = now or timezone.now()
    label = f"open311 client {api_key.name} ({api_key.prefix})"
    try:
        with transaction.atomic():
            ServiceRequest.objects.select_for_update().filter(pk=request.pk).first()  # one update at a time
            earlier = _earlier(api_key, fields["update_id"], request)
            if earlier is not None:
                return earlier, False
            matter = Matter.objects.get(pk=request.matter_id)
            action = _action(matter, fields["status"])
            event = engine.perform(matter, action, actor=None, via_tracking=True, reason=fields["description"], now=now)
            update = ServiceRequestUpdate.objects.create(
                request=request,
                api_key=api_key,
                event=event,
                received_at=now,
                **{k: v for k, v in fields.items() if k != "description"},
            )
            audit.record(
                actor=label,
                action="open311.update_received",
                obj=update,
                area=matter.area,
                summary=f"{matter.tracking_code}: {action} from Open311 client {api_key.name}",
                data={"update_id": update.update_id, "status": update.status, "action": action, "event": event.pk},
                event_type=EventType.UPDATE,
            )
    except engine.TransitionError as exc:
        raise Refused(403 if exc.status == 403 else 400, exc.message) from None
    except ValidationError as exc:
        raise refused_by(exc) from None
    except IntegrityError:
        # The same key posted the same update_id to another request at the same moment, and that one won.
        earlier = _earlier(api_key, fields["update_id"], request)
        if earlier is not None:
            return earlier, False
        raise
    return update, True

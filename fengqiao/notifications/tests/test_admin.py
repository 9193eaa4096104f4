"""The notification admin: read-only pages for unrestricted users (superusers, system administrators) only;
area staff do not see other people's inboxes; "send again" goes through the service."""

import pytest
from django.urls import reverse

from fengqiao.accounts.models import Role
from fengqiao.accounts.services import grant_area_role
from fengqiao.api.tests.world import town_staff
from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification
from fengqiao.notifications.tests.builders import one_of_each

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    chain = make_chain()
    staff = town_staff("this-town", chain["town"])
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    notification = one_of_each(staff)
    return {"chain": chain, "staff": staff, "notification": notification}


def _url(model, view, *args):
    return reverse(f"admin:notifications_{model._meta.model_name}_{view}", args=args)


def test_superusers_and_system_administrators_see_notifications_and_deliveries(client, w):
    system_admin = make_user("sysadmin", is_staff=True)
    grant_area_role(actor="test", user=system_admin, area=w["chain"]["province"], role=Role.SYSTEM_ADMIN)
    system_admin.user_permissions.add(*_perms("view_notification", "view_delivery"))
    for user in (make_user("root", superuser=True), system_admin):
        client.force_login(user)
        for model in (Notification, Delivery):
            page = client.get(_url(model, "changelist"))
            assert page.status_code == 200 and len(page.context["cl"].result_list) == 1
        assert client.get(_url(Notification, "change", w["notification"].pk)).status_code == 200
        assert client.get(_url(Notification, "add")).status_code == 403


def test_area_staff_do_not_see_inboxes_in_the_admin_even_with_the_view_permission(client, w):
    w["staff"].user_permissions.add(*_perms("view_notification", "view_delivery"))
    client.force_login(w["staff"])
    assert client.get(_url(Notification, "changelist")).status_code == 403
    assert client.get(_url(Notification, "change", w["notification"].pk)).status_code == 403
    assert b"notifications/notification" not in client.get(reverse("admin:index")).content


def test_send_again_requeues_failed_deliveries_through_the_service(client, w):
    Delivery.objects.update(status=DeliveryStatus.GAVE_UP, attempts=8, last_error="HTTP 401")
    client.force_login(make_user("root", superuser=True))
    response = client.post(
        _url(Delivery, "changelist"),
        {"action": "retry", "_selected_action": list(Delivery.objects.values_list("pk", flat=True))},
        follow=True,
    )
    assert response.status_code == 200
    assert list(Delivery.objects.values_list("status", "attempts")) == [(DeliveryStatus.PENDING, 0)]
    assert AuditEvent.objects.filter(action="notification.delivery.retry").exists()


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="notifications", codename__in=codenames)

"""The inbox API (/api/v1/inbox/): a user's own notifications only; anyone else's is "not found", superusers
included; read, read-all, the unread count; refusals change nothing. (Lives here because the test files of
fengqiao/api are shared; it tests fengqiao/api/notifications.py.)"""

import pytest
from django.utils import timezone

from fengqiao.api.tests.helpers import client_for, count_queries, results
from fengqiao.areas.tests.factories import make_chain
from fengqiao.departments.tests.builders import make_user
from fengqiao.notifications.models import Notification
from fengqiao.notifications.tests.builders import notify_one

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/inbox/"


@pytest.fixture
def w():
    wang, li = make_user("wang"), make_user("li")
    town = make_chain()["town"]
    mine = [
        notify_one(wang, kind="matter.dispatched", target=("matters.matter", "1"), area=town),
        notify_one(wang, kind="matter.overdue", title="事项已超期"),
        notify_one(wang, kind="security.token_expiring", title="令牌即将过期", body=""),
    ]
    theirs = notify_one(li)
    return {"wang": wang, "li": li, "town": town, "mine": mine, "theirs": theirs}


def _ids(response):
    return [row["id"] for row in results(response)]


def test_the_inbox_lists_only_the_users_own_notifications_newest_first(w):
    response = client_for(w["wang"]).get(INBOX)
    assert _ids(response) == [n.pk for n in reversed(w["mine"])]
    oldest = results(response)[-1]
    assert oldest == {
        "id": w["mine"][0].pk,
        "kind": "matter.dispatched",
        "title": "新的事项待处理",
        "body": "事项 FQ0000000001 已派发给您。",
        "target": {"type": "matters.matter", "id": "1"},
        "area": w["town"].code,
        "created_at": oldest["created_at"],
        "read_at": None,
        "unread": True,
    }
    assert _ids(client_for(w["li"]).get(INBOX)) == [w["theirs"].pk]


def test_another_users_notification_is_not_found_even_for_a_superuser(w):
    theirs = w["theirs"].pk
    for user in (w["wang"], make_user("root", superuser=True)):
        client = client_for(user)
        assert client.get(f"{INBOX}{theirs}/").status_code == 404
        assert client.post(f"{INBOX}{theirs}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs).read_at is None


def test_anonymous_callers_get_401_everywhere(w):
    client = client_for(None)
    mine = w["mine"][0].pk
    for method, url in [
        ("get", INBOX),
        ("get", f"{INBOX}{mine}/"),
        ("post", f"{INBOX}{mine}/read/"),
        ("post", f"{INBOX}read-all/"),
        ("get", f"{INBOX}unread-count/"),
    ]:
        assert getattr(client, method)(url).status_code == 401, url
    assert not Notification.objects.filter(read_at__isnull=False).exists()


def test_reading_one_notification_marks_it_once(w):
    client = client_for(w["wang"])
    first = w["mine"][0]
    response = client.post(f"{INBOX}{first.pk}/read/")
    assert response.status_code == 200 and response.json()["unread"] is False
    read_at = Notification.objects.get(pk=first.pk).read_at
    assert read_at is not None
    assert client.post(f"{INBOX}{first.pk}/read/").status_code == 200
    assert Notification.objects.get(pk=first.pk).read_at == read_at  # the first reading time stays
    assert client.get(INBOX, {"unread": "true"}).json()["count"] == 2
    assert _ids(client.get(INBOX, {"unread": "false"})) == [first.pk]


def test_the_unread_count_and_read_all(w):
    client = client_for(w["wang"])
    assert client.get(f"{INBOX}unread-count/").json() == {"unread": 3}
    response = client.post(f"{INBOX}read-all/", {}, format="json")
    assert response.status_code == 200 and response.json() == {"marked": 3}
    assert client.get(f"{INBOX}unread-count/").json() == {"unread": 0}
    assert client.post(f"{INBOX}read-all/", {}, format="json").json() == {"marked": 0}
    assert Notification.objects.get(pk=w["theirs"].pk).read_at is None  # nobody else's


def test_read_all_up_to_leaves_newer_notifications_unread(w):
    client = client_for(w["wang"])
    newest = w["mine"][-1]
    response = client.post(f"{INBOX}read-all/", {"up_to": w["mine"][1].pk}, format="json")
    assert response.json() == {"marked": 2}
    assert _ids(client.get(INBOX, {"unread": "true"})) == [newest.pk]
    bad = client.post(f"{INBOX}read-all/", {"up_to": "newest"}, format="json")
    assert bad.status_code == 400 and "up_to" in bad.json()
    assert Notification.objects.get(pk=newest.pk).read_at is None


def test_the_inbox_filters_by_kind_or_kind_prefix(w):
    client = client_for(w["wang"])
    assert len(_ids(client.get(INBOX, {"kind": "matter."}))) == 2
    assert _ids(client.get(INBOX, {"kind": "matter.overdue"})) == [w["mine"][1].pk]
    assert _ids(client.get(INBOX, {"kind": "matter"})) == []


def test_a_user_without_any_area_role_can_still_clear_their_inbox(w):
    """The inbox is not area-scoped: writes are not refused for an empty area scope."""
    client = client_for(w["wang"])  # holds no area assignment
    assert client.post(f"{INBOX}{w['mine'][0].pk}/read/").status_code == 200
    assert client.post(f"{INBOX}read-all/", {}, format="json").status_code == 200


def test_the_inbox_list_costs_the_same_queries_for_one_row_and_twenty(w):
    client = client_for(w["li"])
    one, _response = count_queries(client, INBOX)
    for _i in range(19):
        notify_one(w["li"], area=w["town"])
    twenty, response = count_queries(client, INBOX)
    assert response.json()["count"] == 20 and one == twenty


def test_notifications_are_newest_first_even_with_equal_times(w):
    Notification.objects.filter(recipient=w["wang"]).update(created_at=timezone.now())
    assert _ids(client_for(w["wang"]).get(INBOX)) == sorted((n.pk for n in w["mine"]), reverse=True)

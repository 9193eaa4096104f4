"""Markup sent through the door is removed before anything is stored or echoed (or refused when it cannot be)."""

from urllib.parse import urlencode

import pytest

from fengqiao.matters.models import Matter
from fengqiao.open311.tests.builders import BASE, post_request
from fengqiao.open311.tests.wire import both
from fengqiao.open311.text import MarkupLeft, one_line, plain

FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.mark.parametrize(
    "given,expected",
    [
        ("路灯坏了", "路灯坏了"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),  # not markup: left as typed
        ("a &amp; b", "a &amp; b"),  # no tag: entities stay as typed
        ("<p>村口<b>路灯</b>坏了</p>", "村口路灯坏了"),
        ("<script>alert(1)</script>路灯", "路灯"),
        ("<style>p{color:red}</style>路灯", "路灯"),
        ("第一行<br>第二行<br/>第三行", "第一行\n第二行\n第三行"),
        ("<p>a &amp; b</p>", "a & b"),  # HTML: its entities decoded
        ("<b>x</b> &lt;script&gt;alert(1)&lt;/script&gt;", "x"),  # a tag once decoded is removed too
        ("<scr<script>x</script>ipt>alert(1)</script>", "alert(1)"),
        ('<img src=x onerror="alert(1)">', ""),
        ("x <!-- hidden --> y", "x  y"),
    ],
)
def test_plain_removes_markup(given, expected):
    assert plain(given) == expected


@pytest.mark.parametrize("given", ["灯<b", "<b>x</b> <i"])
def test_markup_that_cannot_be_removed_is_refused(given):
    with pytest.raises(MarkupLeft):
        plain(given)


def test_one_line():
    assert one_line("  <b>杆</b>\n 017 ") == "杆 017"


def test_no_markup_is_stored_or_echoed(client, w, schemas):
    fields = {
        "api_key": w["key"],
        "service_code": "E-lamp",
        "lat": "23.705",
        "long": "113.505",
        "description": '<p>村口<b>路灯</b>坏了</p><script>alert("x")</script><img src=x onerror=alert(1)>',
        "address_string": "<i>汤塘村</i>村口",
        "attribute[title]": "<h1>村口路灯不亮</h1>",
        "attribute[fixmystreet_id]": "<b>1234</b>",
    }
    answer = client.post(f"{BASE}/requests.json", urlencode(fields), content_type=FORM)
    assert answer.status_code == 200, answer.content.decode()
    matter = Matter.objects.get(pk=answer.json()[0]["service_request_id"])
    assert (matter.description, matter.title, matter.address) == ("村口路灯坏了", "村口路灯不亮", "汤塘村村口")
    assert matter.open311_request.attributes == {"title": "村口路灯不亮", "fixmystreet_id": "1234"}
    body = both(client, schemas, f"{BASE}/requests/{matter.pk}", "requests.json", {"extensions": "true"})[0]
    shown = [body["description"], body["address"], body["extended_attributes"]["title"]]
    shown += [a["value"] for a in body["attributes"]]
    assert not any("<" in text or "alert" in text for text in shown), shown


def test_a_description_that_is_markup_only_falls_back_to_the_service_name(w):
    matter = post_request(w, description="<p><br></p>").matter
    assert matter.description == "" and matter.title == "路灯不亮"

"""The closed-loop world (matters.tests.builders) with a service tree and an Open311 client key."""

from django.http import QueryDict

from fengqiao.departments.tests.builders import make_category
from fengqiao.matters.tests.builders import GRID_POINT, matter_world
from fengqiao.open311 import services
from fengqiao.open311.models import ServiceAttribute, ServiceRequestUpdate

BASE = "/open311/v2"


def open311_world():
    """matter_world() plus: 环境 (a group) with 路灯 and 垃圾 (垃圾 asks a required list question), an inactive
    service, a dispute type (not public) and a live key for FixMyStreet."""
    w = matter_world()
    w["env"] = make_category("E", "环境卫生")
    w["lamp"] = make_category("E-lamp", "路灯不亮", parent=w["env"])
    w["waste"] = make_category("E-waste", "垃圾堆放", parent=w["env"])
    make_category("E-old", "已停用", parent=w["env"], active=False)
    make_category("D-1", "邻里纠纷", scheme="gbt31000")
    w["bins"] = ServiceAttribute.objects.create(
        category=w["waste"],
        code="kind",
        datatype="singlevaluelist",
        required=True,
        description="什么垃圾？",
        order=1,
        options="household=生活垃圾\nbuilding=建筑垃圾",
    )
    ServiceAttribute.objects.create(category=w["env"], code="count", datatype="number", description="几处？", order=2)
    w["api_key"], w["key"] = services.create_key(actor="test", name="fixmystreet")
    return w


def form(**fields):
    """A QueryDict as a form POST brings it (a list value repeats the key)."""
    data = QueryDict(mutable=True)
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.appendlist(name, str(item))
    return data


def post_request(w, **fields):
    """A request through the service (not HTTP): a lamp at the grid point by 欧阳娜娜."""
    data = {
        "service_code": "E-lamp",
        "lat": GRID_POINT[1],
        "long": GRID_POINT[0],
        "description": "村口路灯坏了三天",
        "first_name": "娜娜",
        "last_name": "欧阳",
        "phone": "13800138000",
        "email": "nana@example.org",
        **fields,
    }
    request, _created = services.submit_request(api_key=w["api_key"], data=form(**data))
    return request


def one_of_each(root, category):
    """A row of every Open311 model (the admin test's world): a key, an attribute of `category`, a request and an
    update of it (written directly: the admin pages only show it; `updates.post_update` is tested on its own)."""
    api_key, _key = services.create_key(actor=root, name="admin-world")
    ServiceAttribute.objects.create(category=category, code="kind", datatype="string", description="说明")
    data = form(service_code=category.code, lat=23.705, long=113.505, description="路灯不亮", email="a@example.org")
    request, _created = services.submit_request(api_key=api_key, data=data)
    ServiceRequestUpdate.objects.create(
        request=request,
        api_key=api_key,
        update_id="fms-1",
        event=request.matter.events.get(),
        status="OPEN",
        client_updated_at=request.received_at,
        author_name="欧阳娜娜",
        received_at=request.received_at,
    )

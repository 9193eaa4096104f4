"""Demo matters for the closed loop (ADR 0013): a few dozen synthetic reports in the demo county's first town,
taken through the real engine by the demo users over the last three weeks, so every state of the loop, a few
overdue clocks, supervision and 吹哨报到 can be seen. Never real people's data: reporters are generated names
marked "（模拟）" with made-up numbers 199000xxxxx (an ordinary mobile range: the numbers are invented, not
reserved). Idempotent: the matters carry source "demo" and a fixed record id.
"""

import datetime
import io
import random

from django.contrib.auth import get_user_model
from django.utils import timezone

from fengqiao.accounts.models import Role
from fengqiao.accounts.services import grant_area_role
from fengqiao.areas.models import Grid
from fengqiao.departments.models import Category, Department, Membership
from fengqiao.matters import services
from fengqiao.matters.engine import perform
from fengqiao.matters.models import Matter

# (category code, title, description, what happens) — happens: the last step the demo takes it to.
REPORTS = [
    ("H01", "村口路灯不亮", "村口到小学的三盏路灯连续一周晚上不亮，学生放学走夜路不安全。", "closed"),
    ("H01", "道路坑洼积水", "村道中段有一处大坑，下雨积水，电动车经过容易摔倒。", "replied"),
    ("H01", "违章搭建占用通道", "有住户在巷子里搭建铁皮棚，消防通道被堵。", "in_progress"),
    ("H01", "桥梁护栏松动", "小河桥东侧护栏有两段松动，存在安全隐患。", "dispatched_overdue"),
    ("H01", "人行道地砖破损", "市场门口人行道地砖大面积破损翘起。", "closed_basic"),
    ("H01", "路面沉降开裂", "新修的水泥路有一段下沉开裂。", "handled"),
    ("H01", "井盖缺失", "村委会门前的下水道井盖不见了，晚上很危险。", "on_spot"),
    ("H01", "小区楼道灯损坏", "安置小区三栋楼道灯全部不亮。", "verified"),
    ("H01", "排水沟堵塞", "排水沟被垃圾堵塞，污水溢到路面。", "whistle"),
    ("H02", "垃圾清运不及时", "垃圾收集点三天没有清运，气味很大，招来很多苍蝇。", "dispatched_overdue"),
    ("H02", "夜间施工噪音扰民", "工地晚上十一点后还在施工，噪音很大影响休息。", "accepted"),
    ("H02", "河道漂浮垃圾", "河道里有大量漂浮垃圾和死鱼。", "submitted"),
    ("H13", "停水未提前通知", "今天上午突然停水，没有提前通知，老人做饭困难。", "dispatched"),
    ("H13", "自来水浑浊", "这两天自来水发黄浑浊，担心水质。", "submitted"),
    ("D02", "邻里因排水起纠纷", "两户村民因屋檐排水流到对方院子发生争吵，需要调解。", "closed_town"),
    ("D02", "宅基地界址争议", "两户村民对宅基地边界有争议，多次争吵。", "escalated"),
    ("D02", "楼上漏水邻里矛盾", "楼上卫生间漏水到楼下，双方协商不成。", "in_progress_town"),
    ("H99", "咨询老年人补贴办理", "想咨询八十岁以上老人高龄津贴怎么申请。", "declined"),
    ("H01", "巷子里铁皮棚堵路（重复反映）", "巷子里的铁皮棚还没拆，消防车进不来。", "merged"),
    ("H01", "广场健身器材损坏", "文化广场两件健身器材断裂，小孩玩耍危险。", "reopened"),
    ("H02", "焚烧秸秆烟雾大", "田里焚烧秸秆，烟雾飘进村里。", "supervised"),
    ("H01", "公交站台顶棚破损", "公交站台顶棚破了一个大洞，下雨没法避雨。", "submitted"),
    ("H01", "路边树木倒伏", "台风后路边一棵大树倒伏，压住半边车道。", "waiting"),
]
CHANNELS = ["snap", "12345", "patrol", "12345", "walk_in", "mailbox", "snap", "visit"]
NAMES = ["陈（模拟）", "李（模拟）", "黄（模拟）", "张（模拟）", "刘（模拟）", "林（模拟）"]


def _photo(seed):
    """A small synthetic photo (no real scene, no metadata)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (480, 360), tuple(rng.randrange(60, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(0, 400), rng.randrange(0, 300)
        draw.rectangle([x, y, x + rng.randrange(20, 80), y + rng.randrange(20, 60)], fill=(90, 90, 90))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _users():
    User = get_user_model()
    names = ["demo-centre-staff", "demo-department-staff", "demo-grid-member", "demo-leader", "demo-staff-town"]
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    return found if len(found) == len(names) else None


def _member(user, department, since):
    if not Membership.objects.filter(user=user, department=department).exists():
        Membership.objects.create(user=user, department=department, valid_from=since)


def write_matters(report, scope, *, actor, seed=42):
    if Matter.objects.filter(source="demo").exists() or not scope.towns:
        return
    users = _users()
    if users is None:
        return
    rng = random.Random(seed)
    town = scope.towns[0]
    county = scope.demo_county or scope.units[0]
    today = timezone.localdate()
    housing = Department.objects.get(area=county, code="housing")
    ecology = Department.objects.get(area=county, code="ecology-environment")
    water = Department.objects.get(area=county, code="water")
    governance = Department.objects.get(area=town, code="comprehensive-governance")
    _member(users["demo-department-staff"], housing, today - datetime.timedelta(days=400))
    _member(users["demo-staff-town"], governance, today - datetime.timedelta(days=400))
    town_worker = users["demo-staff-town"]
    if not town_worker.area_assignments.filter(role=Role.DEPARTMENT_STAFF).exists():
        # the 综治办 officer stationed in the town centre works the town's dispute matters
        grant_area_role(actor=actor, user=town_worker, area=town, role=Role.DEPARTMENT_STAFF, note="演示：综治办")
    lead_for = {"H01": housing, "H02": ecology, "H13": water, "D02": governance}
    categories = {c.code: c for c in Category.objects.filter(code__in={r[0] for r in REPORTS} | {"D02"})}
    member_grid_ids = set(users["demo-grid-member"].grid_assignments.values_list("grid_id", flat=True))
    grids = list(Grid.objects.filter(area__path__startswith=town.path, layer__code="comprehensive").order_by("code"))
    member_grid = next((g for g in grids if g.pk in member_grid_ids), grids[0])
    centre, worker, gridder = users["demo-centre-staff"], users["demo-department-staff"], users["demo-grid-member"]
    leader, town_worker = users["demo-leader"], users["demo-staff-town"]
    start = timezone.now() - datetime.timedelta(days=21)
    created = {}
    for index, (code, title, description, fate) in enumerate(REPORTS):
        grid = member_grid if fate == "on_spot" else grids[rng.randrange(len(grids))]
        point = grid.geometry.representative_point()
        when = start + datetime.timedelta(days=index * 0.9, hours=rng.randrange(8, 18))
        if fate in ("dispatched_overdue", "submitted", "supervised"):
            when = timezone.now() - datetime.timedelta(days=rng.randrange(8, 12) if fate != "submitted" else 0.2)
        anonymous = index % 5 == 4
        matter, _new = services.submit(
            actor=gridder if fate == "on_spot" else actor,
            channel="patrol" if fate == "on_spot" else CHANNELS[index % len(CHANNELS)],
            title=title,
            description=description,
            category=categories.get(code) if fate not in ("submitted",) else None,
            lon=round(point.x, 6),
            lat=round(point.y, 6),
            anonymous=anonymous,
            reporter_name="" if anonymous else NAMES[index % len(NAMES)],
            reporter_phone="" if anonymous else f"199000{index:05d}",
            photos=[("photo.jpg", _photo(seed + index))] if index % 3 == 0 else [],
            source="demo",
            external_id=f"demo-{index:03d}",
            now=when,
        )
        created[fate] = matter
        _advance(matter, fate, when, lead_for.get(code, housing), centre, worker, gridder, leader, town_worker, created)
        report.written["demo matters"] += 1
    from fengqiao.matters.sweep import sweep

    sweep()


def _advance(matter, fate, when, department, centre, worker, gridder, leader, town_worker, created):
    """Take one matter along the loop to its `fate`, an hour or so per step."""
    clock = [when]

    def step(action, actor, **payload):
        clock[0] += datetime.timedelta(hours=3)
        moment = min(clock[0], timezone.now() - datetime.timedelta(minutes=5))
        reason = payload.pop("reason", "")
        perform(matter, action, actor=actor, reason=reason, payload=payload, now=moment)

    if fate in ("submitted",):
        return
    if fate == "declined":
        step("decline", centre, reason="属于政策咨询，已电话告知申请途径，不作为事项受理")
        return
    if fate == "merged":
        step("merge", centre, parent=created["in_progress"].tracking_code, reason="与正在办理的事项为同一问题")
        return
    if fate == "on_spot":
        photo = services.add_photo(matter, actor=gridder, name="after.jpg", data=_photo(7))
        step("resolve_on_spot", gridder, result="已找来临时盖板盖好并设置警示，村委会已订购新井盖", evidence=[photo.pk])
        step("verify", centre)
        step("reply", centre, reply="已就地处置，感谢您的反映")
        step("revisit", centre, rating="satisfied")
        return
    step("accept", centre)
    if fate == "accepted":
        return
    if fate == "escalated":
        step("escalate", centre, reason="涉及土地确权，镇里无法解决，上报县综治中心")
        return
    town_level = fate in ("closed_town", "in_progress_town")
    lead = town_worker if town_level else worker
    targets = [{"department": department.pk}]
    if fate == "whistle":
        from fengqiao.departments.models import Department as D

        targets.append({"department": D.objects.get(area=department.area, code="water").pk, "role": "assist"})
    step("dispatch", centre, targets=targets)
    if fate in ("dispatched_overdue", "supervised"):
        if fate == "supervised":
            step("supervise", leader, note="群众反映强烈，请生态环境局三日内处理并报告")
        return
    if department.pk not in _departments_of(lead):
        return  # no demo user works there: it waits for the unit to acknowledge
    step("acknowledge", lead)
    if fate in ("in_progress", "in_progress_town", "whistle"):
        return
    if fate == "waiting":
        step("wait_for_reporter", lead, reason="需反映人确认具体位置，电话暂未接通")
        return
    step("handle", lead, result="已安排施工队完成维修，现场已恢复正常")
    if fate == "handled":
        return
    step("verify", centre)
    if fate == "verified":
        return
    step("reply", centre, reply="您反映的问题已处理完毕，感谢您对我们工作的支持")
    if fate == "replied":
        return
    if fate == "reopened":
        step("reopen", centre, reason="回访时反映人表示器材仍未修好")
        return
    rating = "basically" if fate == "closed_basic" else "satisfied"
    step("revisit", centre, rating=rating)


def _departments_of(user):
    return set(Membership.objects.filter(user=user).values_list("department_id", flat=True))

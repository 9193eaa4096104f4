"""`fengqiao bench import --rows 1000000`: the hotline importer against a raw insert of the same rows (ADR 0015).

1. A scratch SQLite database (a temporary file, migrated like a test database; the real one is never touched)
   with the county demo (清远市 with 佛冈县 in full: areas, boundaries, grids, centres, categories).
2. A synthetic 12345 export as GBK CSV, in the order work orders are taken (times rising over the last year):
   realistic Chinese titles, contents and addresses of the county's towns and villages, 80 % with a point in a
   grid's box, 12 % with only an address, 1 % far outside the county, names and phones (2 % invalid),
   categories by name (5 % unknown), 0.5 % repeated record ids and 0.2 % rows that cannot be matters.
3. `import_matters` on it (what `fengqiao import-matters` runs), timed end to end: the check of the whole file,
   reading, locating, encrypting, three tables, the audit event.
4. The raw insert: the matter rows exactly as the import stored them are copied to a scratch table, the matter
   tables emptied, and the same rows inserted again with ``executemany`` in batches of the same size, one
   transaction each, no checks (and no clocks or timeline rows), with the same SQLite settings
   (`importer.bulk_writes`).

The last line: ``import: N rows/s (ratio R to a raw insert of the same rows)``.
"""

import csv
import datetime
import random
import shutil
import tempfile
import time
from pathlib import Path

from django.core.management.base import CommandError
from django.db import connections, transaction
from django.utils import timezone

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文辉建国志红春梅海燕俊峰婷雪慧"
PROBLEMS = [
    ("路灯不亮", "城乡建设", "路段的路灯已经连续多天晚上不亮，行人和电动车经过很危险"),
    ("道路破损坑洼", "交通运输", "路面出现多处坑洼，下雨后积水，车辆经过溅水，已有群众摔倒"),
    ("垃圾清运不及时", "环境保护", "垃圾桶已满数日无人清运，气味很大，蚊蝇滋生"),
    ("夜间施工噪音扰民", "环境保护", "附近工地每天晚上十点以后仍在施工，噪音很大，影响休息"),
    ("占道经营", "城乡建设", "有商贩长期在人行道上摆摊经营，行人只能走机动车道"),
    ("拖欠工资", "劳动和社会保障", "在工地务工三个月，老板至今未发放工资，多次讨要无果"),
    ("养老保险咨询", "劳动和社会保障", "想咨询灵活就业人员如何缴纳城乡居民养老保险，需要什么材料"),
    ("学校周边交通拥堵", "教育文体", "上下学时间学校门口车辆乱停，交通拥堵，存在安全隐患"),
    ("自来水停水", "水电气", "小区已停水一天，没有收到任何通知，生活十分不便"),
    ("违章搭建", "城乡建设", "有住户在楼顶违规搭建铁皮房，存在消防安全隐患"),
    ("食品安全投诉", "市场监管", "在附近小餐馆就餐后出现腹泻，怀疑食品不卫生，请相关部门检查"),
    ("邻里纠纷", "邻里", "邻居装修占用公共楼道堆放建材，多次协商无果"),
    ("农田灌溉渠堵塞", "农业农村", "村里的灌溉水渠被垃圾堵塞，影响春耕用水"),
    ("医院排队时间长", "卫生计生", "镇卫生院挂号排队时间太长，希望增加窗口"),
    ("出租屋消防隐患", "公共安全", "出租屋内电动车在楼道充电，存在严重火灾隐患"),
    ("物业服务差", "物业", "小区物业不作为，电梯经常故障，维修不及时"),
]
UNKNOWN_CATEGORIES = ["城市管理", "其它类", "投诉建议"]
ROADS = ["人民路", "建设路", "解放路", "广场路", "新华路", "环城路", "工业大道", "迎宾大道", "朝阳街", "沿江路"]
HEADER = ["工单编号", "受理时间", "诉求标题", "诉求内容", "诉求地址", "经度", "纬度", "来电人", "联系电话", "诉求类型"]


def add_arguments(parser):
    """`fengqiao bench import` (registered with `fengqiao.core.bench.register` in `MattersConfig.ready`)."""
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic export (1000000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="rows per transaction (the importer's default)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")


def run(out, *, rows=1_000_000, seed=1, batch=None, keep=False, **_):
    if rows < 1:
        raise CommandError("--rows must be positive")
    from fengqiao.matters import importer

    folder = Path(tempfile.mkdtemp(prefix="fengqiao-bench-import-"))
    connection = connections["default"]
    if connection.vendor != "sqlite":
        raise CommandError("bench import measures SQLite (the goal is >= 10,000 rows/s on SQLite)")
    original = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved = dict(test_settings)
    test_settings["NAME"] = str(folder / "import.sqlite3")
    started = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        world = build_world()
        out(
            f"setup: scratch {folder} (SQLite), county demo: {world['areas']} areas, {world['grids']} grids "
            f"in {time.perf_counter() - started:.1f} s"
        )
        path = folder / "12345-export.csv"
        started = time.perf_counter()
        made = write_export(path, rows, world, seed=seed)
        out(
            f"export: {rows} rows ({made['duplicates']} repeated ids, {made['bad']} bad rows), GBK CSV of "
            f"{path.stat().st_size / 2**20:.0f} MiB, in {time.perf_counter() - started:.1f} s"
        )
        started, cpu = time.perf_counter(), _cpu_seconds()
        result = importer.import_matters(
            path,
            source="12345",
            actor="bench",
            report_path=folder / "report.csv",
            batch=batch or importer.BATCH,
        )
        seconds = time.perf_counter() - started  # the whole call: checking the file, importing, the audit event
        main, helper = (after - before for after, before in zip(_cpu_seconds(), cpu, strict=True))
        for line in result.lines():
            out(line)
        out(f"encryption: {result.helper_batches} batches of {batch or importer.BATCH} rows in the helper process")
        # Other processes on the machine slow the import down; CPU time shows how much (wall time minus the
        # busier process's CPU time is mostly waiting for a CPU).
        out(f"cpu: {main:.1f} s in this process, {helper:.1f} s in the helper, {seconds:.1f} s of wall time")
        rate = result.read / seconds
        raw_rate = raw_insert(batch or importer.BATCH, out)
        out(f"import: {rate:.0f} rows/s (ratio {rate / raw_rate:.2f} to a raw insert of the same rows)")
        return {"rate": rate, "raw_rate": raw_rate, "imported": result.imported}
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
        connection.settings_dict["TEST"] = saved
        from fengqiao.areas.locate import invalidate
        from fengqiao.core import cache

        invalidate()
        cache.clear()
        if keep:
            out(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _cpu_seconds():
    """(this process, its ended children): user + system CPU seconds."""
    import resource  # POSIX only, as the bench's SQLite setup

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def build_world():
    """The county demo in the scratch database; returns what the generator draws from."""
    from fengqiao.areas.locate import invalidate
    from fengqiao.areas.models import Area, Grid
    from fengqiao.core import cache
    from fengqiao.demo.build import build_demo

    invalidate()
    cache.clear()
    build_demo(actor="bench", scale="county")
    county = Area.objects.get(code="441821000000")
    grids = list(
        Grid.objects.current()
        .filter(area__path__startswith=county.path)
        .values_list("min_lon", "min_lat", "max_lon", "max_lat")
    )
    villages = list(
        Area.objects.current().filter(path__startswith=county.path, level=5).values_list("name", "parent__name")
    )
    return {"areas": Area.objects.count(), "grids": len(grids), "boxes": grids, "villages": villages}


def write_export(path, rows, world, *, seed=1):
    """A synthetic 12345 export (GBK CSV) of `rows` rows; returns how many rows repeat an id or are bad."""
    rng = random.Random(seed)
    now = timezone.localtime()
    boxes, villages = world["boxes"], world["villages"]
    start, step = now - datetime.timedelta(days=365), 365 * 86400 / rows
    made = {"duplicates": 0, "bad": 0}
    with path.open("w", encoding="gbk", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for n in range(rows):
            record = f"GD12345{n:010d}"
            u = rng.random()
            if u < 0.005 and n:
                record = f"GD12345{rng.randrange(n):010d}"
                made["duplicates"] += 1
            # Exports list work orders in the order they were taken: times rise along the file (over a year).
            when = start + datetime.timedelta(seconds=(n + rng.random()) * step)
            title, category, detail = rng.choice(PROBLEMS)
            village, town = rng.choice(villages)
            road = rng.choice(ROADS)
            address = f"清远市佛冈县{town}{village}{road}{rng.randrange(1, 300)}号"
            v = rng.random()
            if v < 0.80:
                box = rng.choice(boxes)
                lon, lat = f"{rng.uniform(box[0], box[2]):.6f}", f"{rng.uniform(box[1], box[3]):.6f}"
            elif v < 0.81:
                lon, lat = f"{rng.uniform(110.0, 112.0):.6f}", f"{rng.uniform(21.0, 22.0):.6f}"
            else:
                lon = lat = ""
                if v > 0.93:
                    address = f"{road}{rng.randrange(1, 300)}号附近"
            phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            if rng.random() < 0.02:
                phone = phone[:7]
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            if rng.random() < 0.05:
                category = rng.choice(UNKNOWN_CATEGORIES)
            text = f"市民来电反映：{town}{village}{road}附近{detail}。诉求：请相关部门尽快核实处理并回复。"
            time_text = when.strftime("%Y-%m-%d %H:%M:%S")
            if u > 0.998:
                made["bad"] += 1
                time_text = "2023-02-30 10:00:00" if u > 0.999 else ""
            writer.writerow([record, time_text, f"{town}{village}{title}", text, address, lon, lat, name, phone,
                             category])  # fmt: skip
    return made


def raw_insert(batch, out):
    """Copy the imported matter rows as stored to a scratch table, empty the matter tables, and insert the same
    rows again with ``executemany`` (batches of `batch`, one transaction each, no checks); returns rows per
    second (only the inserts and commits are timed)."""
    from fengqiao.matters.importer import bulk_writes
    from fengqiao.matters.models import Clock, Matter, MatterEvent

    connection = connections[Matter.objects.db]
    quote = connection.ops.quote_name
    fields = [f for f in Matter._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    table = quote(Matter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS temp.bench_raw")
        cursor.execute(f"CREATE TEMP TABLE bench_raw AS SELECT {columns} FROM {table} WHERE source = %s ORDER BY id",
                       ["12345"])  # fmt: skip
        cursor.execute("SELECT count(*) FROM temp.bench_raw")
        total = cursor.fetchone()[0]
        # Emptied whole (SQLite's truncate optimisation; the scratch database's demo matters go too).
        cursor.execute("PRAGMA foreign_keys = OFF")
        for model in (MatterEvent, Clock, Matter):
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")
        cursor.execute("PRAGMA foreign_keys = ON")
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    seconds = 0.0
    with bulk_writes(connection), connection.cursor() as cursor:
        for first in range(0, total, batch):
            cursor.execute(
                "SELECT * FROM temp.bench_raw WHERE rowid > %s AND rowid <= %s ORDER BY rowid", [first, first + batch]
            )
            rows = cursor.fetchall()
            started = time.perf_counter()
            with transaction.atomic():
                cursor.executemany(sql, rows)
            seconds += time.perf_counter() - started
        cursor.execute("DROP TABLE temp.bench_raw")
    rate = total / seconds
    out(f"raw insert: {total} matter rows in {seconds:.1f} s ({rate:,.0f} rows/s; executemany, no checks)")
    return rate

"""Reference data for departments: the matter categories the closed loop classifies and routes by.

Two schemes are seeded:

* ``12345``: first-level categories of the 12345 government hotline. There is no single national list; this is
  a **seed list** in the style of provincial 12345 catalogues, and its first seven names are exactly the seven
  first-level labels of the 2020 Teddy-Cup messages (shared/data/complaints), so a classifier trained on them maps
  one to one. Administrators extend or rename it.
* ``gbt31000``: the dispute types (矛盾纠纷事件类型) of GB/T 31000-2015 with the standard's two-digit codes and the
  second-level codes listed in domain.md §3 (category code = "D" + standard code).

`seed_categories` takes the model class so the data migration can pass its historical model; it creates what is
missing and never overwrites what an administrator has edited.
"""

HOTLINE = "12345"
DISPUTE = "gbt31000"

# (code, name) — the first seven follow the Teddy-Cup label order (label_id 0..6).
HOTLINE_CATEGORIES = [
    ("H01", "城乡建设"),
    ("H02", "环境保护"),
    ("H03", "交通运输"),
    ("H04", "教育文体"),
    ("H05", "劳动和社会保障"),
    ("H06", "商贸旅游"),
    ("H07", "卫生计生"),
    ("H08", "公共安全"),
    ("H09", "民政"),
    ("H10", "农业农村"),
    ("H11", "市场监管"),
    ("H12", "自然资源"),
    ("H13", "水电气"),
    ("H99", "其他"),
]

# GB/T 31000-2015 矛盾纠纷事件类型: (standard code, name, [(second-level code, name), ...])
DISPUTE_TYPES = [
    ("01", "婚恋家庭", []),
    ("02", "邻里", []),
    ("03", "人格权", []),
    ("04", "物权相关", [("0402", "物业")]),
    ("05", "侵权", [("0502", "医疗损害"), ("0503", "交通事故"), ("0504", "环境污染")]),
    ("06", "合同", []),
    ("07", "劳动人事", []),
    ("08", "金融借贷", []),
    ("09", "土地及资源权属", [("0901", "承包"), ("0902", "宅基地"), ("0903", "山林矿产")]),
    ("10", "其他民商事", []),
    ("11", "城乡建设发展", [("1101", "国有土地房屋征收"), ("1102", "集体土地征用"), ("1103", "规划及拆违")]),
    ("12", "涉民政", []),
    ("13", "其他行政执法", []),
    ("14", "涉法涉诉", []),
    ("15", "涉组织涉纪检", []),
    ("16", "涉民族宗教", []),
    ("99", "其他", []),
]


def dispute_code(standard_code: str) -> str:
    """Category code of a GB/T 31000 dispute type: "0402" -> "D0402"."""
    return f"D{standard_code}"


def category_rows():
    """Every seeded category as (code, name, scheme, parent_code, order), parents before children."""
    rows = []
    for i, (code, name) in enumerate(HOTLINE_CATEGORIES):
        rows.append((code, name, HOTLINE, None, (i + 1) * 10))
    for i, (code, name, children) in enumerate(DISPUTE_TYPES):
        parent = dispute_code(code)
        rows.append((parent, name, DISPUTE, None, (i + 1) * 10))
        for j, (child_code, child_name) in enumerate(children):
            rows.append((dispute_code(child_code), child_name, DISPUTE, parent, (j + 1) * 10))
    return rows


def seed_categories(Category):
    """Create the seeded categories that do not exist yet (path = parent path + code + "/").

    Returns the number created.
    """
    created = 0
    by_code = {}
    for code, name, scheme, parent_code, order in category_rows():
        parent = by_code.get(parent_code) if parent_code else None
        obj, was_created = Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "scheme": scheme,
                "parent": parent,
                "path": f"{parent.path if parent else ''}{code}/",
                "order": order,
            },
        )
        by_code[code] = obj
        created += was_created
    return created

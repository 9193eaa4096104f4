"""The demo's departments and their catalogue of responsibilities, mapped to the seeded categories
(fengqiao/departments/seed.py: "H.." = 12345 first level, "D.." = GB/T 31000 dispute types).

A responsibility is (category code, lead?): lead = 主办, otherwise 协办 (assisting).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str  # appended to the area's name: 佛冈县 + 公安局
    kind: str
    responsibilities: tuple[tuple[str, bool], ...]
    prefix: str = "name"  # "name": 佛冈县公安局, "short": 汤塘派出所


COUNTY_DEPARTMENTS = [
    DepartmentSpec("public-security", "公安局", "police", (("H08", True), ("D0503", True), ("D02", False))),
    DepartmentSpec("housing", "住房和城乡建设局", "government", (("H01", True), ("D0402", True), ("D11", True))),
    DepartmentSpec("ecology-environment", "生态环境局", "government", (("H02", True), ("D0504", True))),
    DepartmentSpec("transport", "交通运输局", "government", (("H03", True), ("D0503", False))),
    DepartmentSpec("education", "教育局", "government", (("H04", True),)),
    DepartmentSpec("culture-tourism", "文化广电旅游体育局", "government", (("H06", True), ("H04", False))),
    DepartmentSpec("human-resources", "人力资源和社会保障局", "government", (("H05", True), ("D07", True))),
    DepartmentSpec("health", "卫生健康局", "government", (("H07", True), ("D0502", True))),
    DepartmentSpec("civil-affairs", "民政局", "government", (("H09", True), ("D12", True), ("D01", False))),
    DepartmentSpec(
        "justice", "司法局", "judicial", (("D01", True), ("D02", True), ("D06", True), ("D10", True), ("D14", False))
    ),
    DepartmentSpec("petition", "信访局", "petition", (("H99", True), ("D14", True), ("D99", True))),
    DepartmentSpec("market-regulation", "市场监督管理局", "government", (("H11", True), ("D08", False))),
    DepartmentSpec(
        "natural-resources",
        "自然资源局",
        "government",
        (("H12", True), ("D09", True), ("D1101", True), ("D1102", True)),
    ),
    DepartmentSpec("water", "水务局", "government", (("H13", True),)),
    DepartmentSpec("emergency", "应急管理局", "government", (("H08", False),)),
    DepartmentSpec("agriculture", "农业农村局", "government", (("H10", True), ("D0901", True), ("D0902", True))),
    DepartmentSpec("urban-management", "城市管理和综合执法局", "government", (("D1103", True), ("D13", True))),
]

TOWN_DEPARTMENTS = [
    DepartmentSpec("comprehensive-governance", "综治办", "government", (("D02", True), ("D99", True), ("H99", True))),
    DepartmentSpec("police-station", "派出所", "police", (("H08", True), ("D0503", True)), prefix="short"),
    DepartmentSpec(
        "judicial-office", "司法所", "judicial", (("D01", True), ("D06", True), ("D10", True)), prefix="short"
    ),
    DepartmentSpec("construction", "城建办", "government", (("H01", True), ("D0402", True), ("D1103", True))),
    DepartmentSpec("agriculture", "农业办", "government", (("H10", True), ("D0901", True), ("D0902", True))),
]


def department_name(spec, area):
    """佛冈县 + 公安局 -> 佛冈县公安局; 汤塘镇 + 派出所 -> 汤塘派出所."""
    base = (area.short_name or area.name) if spec.prefix == "short" else area.name
    return f"{base}{spec.name}"

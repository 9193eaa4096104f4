"""A small division tree for the address tests (names real in form, codes illustrative)."""

from fengqiao.areas.tests.factories import make_area


def address_tree():
    """广东省 → 清远市 → 佛冈县 (汤塘镇, 石角镇) and 清城区 (石角镇 again); villages with namesakes."""
    province = make_area("440000000000", "广东省")
    city = make_area("441800000000", "清远市", province)
    fogang = make_area("441821000000", "佛冈县", city)
    qingcheng = make_area("441802000000", "清城区", city)
    tangtang = make_area("441821102000", "汤塘镇", fogang)
    shijiao = make_area("441821103000", "石角镇", fogang)
    other_shijiao = make_area("441802103000", "石角镇", qingcheng)
    areas = {
        "province": province,
        "city": city,
        "fogang": fogang,
        "qingcheng": qingcheng,
        "tangtang": tangtang,
        "shijiao": shijiao,
        "other_shijiao": other_shijiao,
        "tangtang_village": make_area("441821102214", "汤塘村委会", tangtang),
        "tangtang_community": make_area("441821102001", "汤塘社区居委会", tangtang),
        "renmin": make_area("441821102215", "人民村委会", tangtang),
        "xincun_tangtang": make_area("441821102216", "新村村委会", tangtang),
        "xincun_shijiao": make_area("441821103201", "新村村委会", shijiao),
        "guanshan": make_area("441821103202", "观山村委会", shijiao),
        "longnan": make_area("441821103203", "佛冈县石角镇龙南村民委员会", shijiao),
        "qingcheng_village": make_area("441802103201", "黄花村委会", other_shijiao),
    }
    return areas

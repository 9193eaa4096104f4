"""The interface speaks Simplified Chinese by default and English on request.

Model verbose names, choices and help texts are English msgids; fengqiao/locale/zh_Hans/LC_MESSAGES/django.po
translates every one of them. After adding strings, refresh the catalogue:

    .venv/bin/pybabel extract -k _ -k gettext_lazy -k gettext -k pgettext_lazy:1c,2 -o /tmp/messages.pot fengqiao
    .venv/bin/pybabel update -i /tmp/messages.pot -d fengqiao/locale -l zh_Hans -D django --ignore-obsolete
    (fill in every empty msgstr, then) .venv/bin/python -m fengqiao.core.messages
"""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area
from fengqiao.centres.models import Reception
from fengqiao.core import messages
from fengqiao.departments.tests.builders import make_user

PACKAGE = Path(messages.__file__).resolve().parent.parent
PO = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
KEYWORDS = {"_": None, "gettext_lazy": None, "gettext": None, "pgettext_lazy": ((1, "c"), 2)}


@pytest.fixture(scope="module")
def compiled():
    """Compile the catalogue if the .mo is missing or stale and make Django reload its translations."""
    if messages.compile_all():
        trans_real._translations = {}
        trans_real._default = None
    yield


def catalogue():
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_Hans")


def test_every_msgid_in_the_code_has_a_chinese_translation():
    in_code = {
        (message if isinstance(message, str) else message[-1])
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS
        )
    }
    translated = {m.id: m.string for m in catalogue() if m.id and not m.fuzzy}
    missing = sorted(msgid for msgid in in_code if not translated.get(msgid))
    assert not missing, f"add to {PO.relative_to(PACKAGE.parent)}: {missing}"


def test_the_catalogue_has_no_fuzzy_or_empty_entries():
    bad = [m.id for m in catalogue() if m.id and (m.fuzzy or not m.string)]
    assert not bad


def test_verbose_names_and_choices_are_chinese_by_default_and_english_on_request(compiled):
    with translation.override("zh-hans"):
        assert str(Area._meta.verbose_name) == "区域"
        assert str(Area._meta.get_field("code").verbose_name) == "区划代码"
        assert str(Level.TOWN.label) == "乡镇（街道）级"
        assert str(Reception._meta.verbose_name) == "来访登记"
    with translation.override("en"):
        assert str(Area._meta.verbose_name) == "area"


@pytest.mark.django_db
def test_the_admin_speaks_chinese_without_accept_language_and_english_under_en(client, compiled):
    client.force_login(make_user("root", superuser=True))
    chinese = client.get(reverse("admin:index")).content.decode()
    assert "区划与网格" in chinese and "综治中心" in chinese and "来访登记簿" in chinese
    english = client.get("/en/admin/").content.decode()
    assert "Areas and grids" in english and "Governance centres" in english
    assert "区划与网格" not in english

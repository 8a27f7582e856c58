"""The catalogs of every language are complete for residents, compiled, and やさしい日本語's
kanji carry readings (issue 22).

- Every msgid a resident can meet (templates outside templates/admin, Python outside the
  admin, the imports, the management commands and the staff-only modules) has a translation,
  not fuzzy, in every language of settings.LANGUAGES. The msgids are taken from the code as
  it is now (``makemessages``, which needs GNU gettext's xgettext), so a new wording with no
  translation fails here, not on a resident's screen.
- The committed .mo holds exactly the .po's translations (a .po edited and not compiled fails).
- Every placeholder of a msgid is in its translation, and no other.
- In やさしい日本語, every kanji outside grades 1–2 (学年別漢字配当表) is inside a reading,
  「｜漢字《かんじ》」, which the portal shows as <ruby> (portal.furigana).
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils.translation import to_locale

from portal.furigana import strip

from . import po

ROOT = Path(settings.BASE_DIR)
# Where only staff and operators read (they stay in Japanese); the translators' split too.
STAFF_ONLY = re.compile(
    r"(admin|billing/imports/|/management/|billing/integrity\.py|billing/importjobs\.py"
    r"|billing/web_slip\.py)"
)
# What makemessages reads: the apps and the templates.
SOURCES = ("accounts", "billing", "moving", "portal", "templates")
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sd]|%[sd]|\{[a-z_0-9]+\}")
# 学年別漢字配当表, 1st and 2nd grade: the kanji やさしい日本語 writes without a reading.
GRADE_1_2 = set(
    "一右雨円王音下火花貝学気九休玉金空月犬見五口校左三山子四糸字耳七車手十出女小上森人水正"
    "生青夕石赤千川先早草足村大男竹中虫町天田土二日入年白八百文木本名目立力林六引羽雲園遠何"
    "科夏家歌画回会海絵外角楽活間丸岩顔汽記帰弓牛魚京強教近兄形計元言原戸古午後語工公広交光"
    "考行高黄合谷国黒今才細作算止市矢姉思紙寺自時室社弱首秋週春書少場色食心新親図数西声星晴"
    "切雪船線前組走多太体台地池知茶昼長鳥朝直通弟店点電刀冬当東答頭同道読内南肉馬売買麦半番"
    "父風分聞米歩母方北毎妹万明鳴毛門夜野友用曜来里理話"
)
KANJI = re.compile(r"[\u3400-\u9fff]")


def catalog(language: str) -> Path:
    return ROOT / "locale" / to_locale(language) / "LC_MESSAGES" / "django.po"


# Every catalog: ours, and our wording of Django's own messages (locale/ja/, locale_overrides/).
CATALOGS = sorted(
    str(path.relative_to(ROOT)) for path in ROOT.glob("locale*/*/LC_MESSAGES/django.po")
)
EASY = [path for path in CATALOGS if f"/{to_locale('ja-easy')}/" in path]


@pytest.fixture(scope="module")
def code_msgids(tmp_path_factory) -> dict[str, po.Entry]:
    """The msgids in the code now, with where each is used (makemessages into a scratch dir)."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is needed: apt-get install gettext")
    # makemessages writes beside the source it reads: give it a tree of its own whose
    # locale/ is the scratch one (the source directories linked in, nothing copied).
    scratch = tmp_path_factory.mktemp("messages")
    for name in SOURCES:
        (scratch / name).symlink_to(ROOT / name)
    (scratch / "locale").mkdir()
    here = os.getcwd()
    os.chdir(scratch)
    try:
        with override_settings(LOCALE_PATHS=[scratch / "locale"]):
            call_command("makemessages", locale=["xx"], verbosity=0, symlinks=True)
    finally:
        os.chdir(here)
    found = po.read(scratch / "locale" / "xx" / "LC_MESSAGES" / "django.po")
    return {entry.key: entry for entry in found}


def resident_facing(entry: po.Entry) -> bool:
    return any(not STAFF_ONLY.search(path) for path in entry.files)


def test_the_split_of_staff_and_resident_words():
    assert not resident_facing(po.Entry("承認", references=["accounts/admin.py:12"]))
    assert not resident_facing(po.Entry("x", references=["templates/admin/billing/a.html:3"]))
    assert resident_facing(
        po.Entry("住所", references=["accounts/admin.py:58", "templates/accounts/profile.html:12"])
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_resident_facing_msgid_is_translated(code_msgids, language):
    entries = {entry.key: entry for entry in po.read(catalog(language))}
    missing = [
        f"{entry.files[0]}: {entry.msgid[:60]!r}"
        for key, entry in code_msgids.items()
        if resident_facing(entry) and not (key in entries and entries[key].translated)
    ]
    assert not missing, (
        f"{len(missing)} msgids without a {language} translation (run `make messages`, "
        "translate, compile):\n" + "\n".join(missing[:40])
    )


def test_every_catalog_is_checked():
    assert len(CATALOGS) >= 1 + len(TRANSLATED) and EASY


@pytest.mark.parametrize("name", CATALOGS)
def test_the_compiled_catalog_is_the_po(name):
    path = ROOT / name
    with open(path.with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog  # noqa: SLF001 - what gettext serves
    expected = {}
    for entry in po.read(path):
        if not entry.translated:
            continue
        if entry.msgid_plural is None:
            expected[entry.key] = entry.msgstr[0]
        else:
            for number, text in entry.msgstr.items():
                expected[(entry.key, number)] = text
    compiled = {key: text for key, text in compiled.items() if key != ""}
    assert compiled == expected, (
        f"{path.with_suffix('.mo')} is not {path.name} compiled: run `make messages`"
    )


@pytest.mark.parametrize("name", CATALOGS)
def test_translations_keep_their_placeholders(name):
    wrong = []
    for entry in po.read(ROOT / name):
        if "fuzzy" in entry.flags:
            continue  # not compiled: never shown
        wanted = set(PLACEHOLDER.findall(entry.msgid + (entry.msgid_plural or "")))
        for text in entry.msgstr.values():
            if text and set(PLACEHOLDER.findall(text)) != wanted:
                wrong.append(f"{entry.msgid[:50]!r} → {text[:50]!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", EASY)
def test_easy_japanese_gives_a_reading_for_every_kanji_beyond_grade_two(name):
    unread = []
    for entry in po.read(ROOT / name):
        for text in entry.msgstr.values():
            bare = strip_readings(text)
            hard = sorted({k for k in KANJI.findall(bare) if k not in GRADE_1_2})
            if hard:
                unread.append(f"{''.join(hard)}: {text[:70]!r}")
    assert not unread, f"{len(unread)} msgstrs with kanji and no reading:\n" + "\n".join(unread)


def strip_readings(text: str) -> str:
    """The text without its read words (base and reading both gone)."""
    return re.sub(r"｜[^｜《》]+《[^《》]+》|[\u3400-\u9fff々〆ヶ]+《[^《》]+》", "", text)


def test_strip_keeps_the_words_and_drops_the_readings():
    assert strip("｜払《はら》います") == "払います"

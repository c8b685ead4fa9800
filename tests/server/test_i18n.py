"""Every page in English and Chinese: the switch, the browser's language, the catalogue."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from server.models import utcnow

SERVER = Path("server")
CATALOGUE = SERVER / "translations/zh/LC_MESSAGES"


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_text_in_the_code_has_a_chinese_translation():
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    ids = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(SERVER, method_map, keywords=keywords)
    }
    catalogue = read_po(io.BytesIO((CATALOGUE / "messages.po").read_bytes()))
    missing = sorted(i for i in ids if not (catalogue.get(i) and catalogue.get(i).string))
    assert missing == [], "run the steps in server/translations/README.md"


def test_compiled_catalogue_matches_the_po_file():
    po = read_po(io.BytesIO((CATALOGUE / "messages.po").read_bytes()))
    mo = read_mo(io.BytesIO((CATALOGUE / "messages.mo").read_bytes()))

    def entries(catalogue) -> dict:
        # A plural entry (ngettext) has a tuple id and a list (mo) or tuple (po) of strings.
        return {
            (tuple(m.id) if isinstance(m.id, list) else m.id): (
                tuple(m.string) if isinstance(m.string, list | tuple) else m.string
            )
            for m in catalogue
            if m.id
        }

    assert entries(po) == entries(mo)


def test_browser_language_zh_cn_gets_chinese(client):
    # Babel would read zh_CN as zh_Hans_CN; the bare "zh" catalogue must still be found.
    for header in ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "zh"):
        body = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
        assert "员工登录" in body, header
        assert 'lang="zh-Hans"' in body


def test_english_by_default_and_for_other_languages(client):
    for header in (None, "fr-FR,fr", "en-US"):
        headers = {"Accept-Language": header} if header else {}
        body = client.get("/login", headers=headers).get_data(as_text=True)
        assert "Staff log in" in body and not _has_chinese(body.replace("中文", ""))


def test_language_switch_is_remembered(client):
    response = client.post("/lang/zh", data={"next": "/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "员工登录" in client.get("/login").get_data(as_text=True)
    client.post("/lang/en", data={"next": "https://evil.test/"})
    assert "Staff log in" in client.get("/login").get_data(as_text=True)


def test_switch_never_redirects_off_site(client):
    for target in ("https://evil.test/", "//evil.test/", "javascript:alert(1)"):
        response = client.post("/lang/zh", data={"next": target})
        assert response.headers["Location"] in ("/", "http://localhost/")


def test_candidate_pages_in_chinese(client, make_invitation, db):
    invitation, token = make_invitation()
    client.post("/lang/zh", data={"next": "/"})
    landing = client.get(f"/c/{token}").get_data(as_text=True)
    assert "开始测评" in landing and "LeNet-5 手写数字识别" in landing
    client.post(f"/c/{token}/start")
    work = client.get(f"/c/{token}/work").get_data(as_text=True)
    assert "剩余时间" in work and "理论题" in work
    # the theory question itself is shown in Chinese too
    from graders.theory import load_bank

    assert load_bank().get("class-imbalance").title.get("zh") in work
    expired, expired_token = make_invitation(expires_at=utcnow())
    assert "此邀请已过期" in client.get(f"/c/{expired_token}").get_data(as_text=True)


def test_staff_pages_in_chinese(client, make_user, make_assessment, login):
    recruiter = make_user(role="recruiter")
    assessment = make_assessment(owner=recruiter)
    login(client, recruiter)
    client.post("/lang/zh", data={"next": "/"})
    assert "新建测评" in client.get("/recruiter/").get_data(as_text=True)
    page = client.get(f"/recruiter/assessments/{assessment.id}").get_data(as_text=True)
    assert "邀请候选人" in page
    assert "新建测评" in client.get("/recruiter/assessments/new").get_data(as_text=True)


def test_error_pages_in_chinese(client):
    body = client.get("/missing", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "此地址没有内容" in body

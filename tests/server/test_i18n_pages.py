"""Every page rendered in Chinese (the browser sends ``zh-CN``) has no English left in its
visible text: labels, metric names, report details, buttons, titles, placeholders.

Visible text is what a person reads: text nodes outside code (``code``, ``pre``, ``kbd``,
highlighted source, logs) plus ``placeholder``, ``aria-label``, ``title`` and button values.
What may stay in Latin letters is listed in ``ALLOWED``: product and library names, metric
abbreviations, units, file formats; and the world's own data (people's names, emails,
assessment titles), which nobody translates.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from server.models import Assessment
from tests.server.site_pages import build_site, html_endpoints, pages
from tests.server.test_review import GOOD_ANSWER

#: Latin-letter words a Chinese page may show: names of products, libraries, formats and
#: standards, metric abbreviations and units.
ALLOWED = {
    # product, libraries, challenges, data
    "assay",
    "keras",
    "tensorflow",
    "lenet",
    "mnist",
    "imdb",
    "bilstm",
    "lstm",
    "python",
    "jupyter",
    "notebook",
    "ipynb",
    "py",
    "numpy",
    "docker",
    "bwrap",
    "bubblewrap",
    "sklearn",
    "scikit",
    "learn",
    "nbformat",
    "pygments",
    "huey",
    "redis",
    "sqlite",
    "postgresql",
    "mlxtend",
    "reviews",
    "movie",
    # formats, protocols, standards
    "csv",
    "zip",
    "json",
    "api",
    "http",
    "https",
    "url",
    "html",
    "utf",
    "hmac",
    "sha",
    "post",
    "get",
    "bearer",
    "webhook",
    "webhooks",
    "id",
    "ids",
    "utc",
    "smtp",
    "gpu",
    "cpu",
    "ui",
    # the language switch names each language in itself
    "english",
    # metric abbreviations and units
    "f1",
    "roc",
    "auc",
    "pr",
    "tpr",
    "fpr",
    "mb",
    "kb",
    "gb",
    "ms",
    "s",
    "min",
    "h",
    "x",
    "n",
    "tp",
    "tn",
    "fp",
    "fn",
    "p",
    "r",
    "f-beta",
    "brier",
    "kib",
    "nan",
    # technical terms Chinese ML writing keeps in English (statements, theory bank)
    "dropout",
    "conv2d",
    "dense",
    "softmax",
    "argmax",
    "markdown",
    "ipython",
    "smote",
    "easyensemble",
    "bagging",
    "focal",
    "loss",
    "bootstrap",
    "gdpr",
    "lora",
    "token",
    "flops",
    "transformer",
    "adamw",
    "sft",
    "ai",
    "rlhf",
    "ppo",
    "dpo",
    "tf",
    "data",
    "prefetch",
    "dataloader",
    "tensor",
    "core",
    "fp16",
    "bf16",
    "fp32",
    "int8",
    "int4",
    "xla",
    "true",
    "false",
    "torch",
    "compile",
    "flashattention",
    "bpe",
    "cohen's",
    "kappa",
    "wordpiece",
    "unigram",
    "adam",
    "zero",
    "pytorch",
    "fsdp",
    "pr-auc",
    "roc-auc",
    "a100",
    "h100",
    "d",
    "lenet-5",
    "sha256",
}
#: Elements whose text is code, data, a log or a quotation (``q``: the candidate's own words
#: quoted as evidence): never translated.
CODE_TAGS = {"code", "pre", "kbd", "samp", "script", "style", "textarea", "q"}
CODE_CLASSES = {"highlight", "log", "token", "code-plain", "nb-text", "email", "answer", "mono"}
#: A Latin-letter word (digits inside, as in F1 or Conv2D); "2xx" is not one.
WORD = re.compile(r"(?<![\w])[A-Za-z](?:[\w'’-]*\w)?")


class VisibleText(HTMLParser):
    """Collects the text a reader sees, outside code and data."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # open elements: (tag, inside code?)
        self.parts: list[str] = []

    @property
    def in_code(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        code = (
            self.in_code
            or tag in CODE_TAGS
            or bool(classes & CODE_CLASSES)
            or attrs.get("translate") == "no"
        )
        if not code:
            for name in ("placeholder", "aria-label", "title", "alt"):
                if attrs.get(name):
                    self.parts.append(attrs[name])
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in self.VOID:
            self.stack.append((tag, code))

    def handle_endtag(self, tag):
        # Close up to the matching element: an element left open (a <p> or <li> without its
        # end tag) must not shift what counts as code.
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if not self.in_code and data.strip():
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def english_words(text: str, data: list[str]) -> list[str]:
    """Latin-letter words of ``text`` not allowed, once the world's own ``data`` is removed."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"\S+@\S+", " ", text)  # emails
    text = re.sub(r"\b[\w.-]+\.(py|ipynb|csv|json|png|txt|gz)\b", " ", text)  # file names
    text = re.sub(r"\b[a-z0-9]+(?:[-_][a-z0-9]+)+\b", " ", text)  # slugs and identifiers
    text = re.sub(r"(?<![\w.])/[\w/.{}-]+", " ", text)  # paths such as /api/v1
    # A single letter is a key name, a variable or a class label (j/k, P, R), not English.
    words = WORD.findall(text)
    return [w for w in words if len(w) > 1 and w.lower().strip("'’-") not in ALLOWED]


@pytest.fixture
def site(db, make_user, make_assessment, make_invitation, tmp_path):
    return build_site(db, make_user, make_assessment, make_invitation, tmp_path)


def _world_data(db, site) -> list[str]:
    """Strings that are the user's data, not the interface's."""
    from server.models import Invitation, User

    data = [u.name for u in db.query(User)] + [u.email for u in db.query(User)]
    data += [i.candidate_name for i in db.query(Invitation)]
    data += [a.title for a in db.query(Assessment)]
    data += ["hooks.example.test", "https://hooks.example.test/assay", GOOD_ANSWER]
    return data


def test_every_page_is_in_the_table(app, site):
    covered = {page.endpoint for page in pages(site)}
    missing = html_endpoints(app) - covered - {"errors.not_found"}
    assert missing == set(), "add a row for each new page to tests/server/site_pages.py"


def test_no_english_left_on_any_chinese_page(app, db, site, login):
    data = _world_data(db, site)
    people = {
        "admin": site["people"]["admin"],
        "recruiter": site["people"]["owner"],
        "reviewer": site["people"]["reviewer"],
    }
    clients: dict = {}
    found = []
    for page in pages(site):
        if page.who not in clients:
            clients[page.who] = app.test_client()
            if page.who in people:
                login(clients[page.who], people[page.who])
        response = clients[page.who].get(page.path, headers={"Accept-Language": "zh-CN"})
        assert response.status_code in (200, 403, 404, 410), (page.name, response.status_code)
        words = english_words(visible_text(response.get_data(as_text=True)), data)
        if words:
            found.append(f"{page.name}: {' '.join(dict.fromkeys(words))}")
    assert not found, "\n".join(found)

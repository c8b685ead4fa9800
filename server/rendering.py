"""Markdown to safe HTML (markdown-it renders with raw HTML off, nh3 sanitises what comes
out), and links to many rows built at the cost of one ``url_for``."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import nh3
from flask import url_for
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=64)
def render_markdown(text: str) -> Markup:
    """Sanitised HTML for ``text``; safe to put in a page as is."""
    return Markup(nh3.clean(_md.render(text)))


_PROBE = 987654321


def id_links(endpoint: str, field: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, field=id, **values)`` for many ids, built once: a table page links
    every row, and ``url_for`` costs more than the rest of a row's markup."""
    head, _probe, tail = url_for(endpoint, **{field: _PROBE}, **values).partition(str(_PROBE))
    return lambda value: f"{head}{int(value)}{tail}"

"""Markdown to safe HTML: markdown-it renders (raw HTML off), nh3 sanitises what comes out."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=64)
def render_markdown(text: str) -> Markup:
    """Sanitised HTML for ``text``; safe to put in a page as is."""
    return Markup(nh3.clean(_md.render(text)))

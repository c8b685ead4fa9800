"""Markdown to safe HTML (markdown-it renders with raw HTML off, nh3 sanitises what comes
out), and links to many rows built at the cost of one ``url_for``."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import nh3
from babel.numbers import format_decimal
from flask import url_for
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=64)
def render_markdown(text: str) -> Markup:
    """Sanitised HTML for ``text``; safe to put in a page as is."""
    return Markup(nh3.clean(_md.render(text)))


def _locale() -> str:
    from flask import has_request_context

    if not has_request_context():
        return "en"
    from flask_babel import get_locale

    return str(get_locale() or "en")


def format_number(value, *, signed: bool = False, locale: str | None = None) -> str:
    """A number for people, in the page's locale (Babel): a whole number as an integer with
    thousands separators (61,706, not 61706.0000), a fraction with as many decimals as it
    needs and no trailing zeros: four below 1 (0.7443), three below 1,000 (12.346), one
    above (238,294.5). ``signed`` writes the sign of a difference (+0.012, −3). None is "—".
    """
    if value is None or isinstance(value, bool):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return str(number)
    size = abs(number)
    if number.is_integer():
        pattern = "#,##0"
    elif size < 1:
        pattern = "#,##0.####"
    elif size < 1000:
        pattern = "#,##0.###"
    else:
        pattern = "#,##0.#"
    if signed:
        pattern = f"+{pattern};-{pattern}"
    text = format_decimal(number, format=pattern, locale=locale or _locale())
    return "0" if text in ("-0", "+0", "-0.0") and not signed else text


_PROBE = 987654321


def id_links(endpoint: str, field: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, field=id, **values)`` for many ids, built once: a table page links
    every row, and ``url_for`` costs more than the rest of a row's markup."""
    head, _probe, tail = url_for(endpoint, **{field: _PROBE}, **values).partition(str(_PROBE))
    return lambda value: f"{head}{int(value)}{tail}"

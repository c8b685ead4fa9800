"""One environment variable as Assay declares it (``Setting``): its type, default and meaning,
how its text is parsed, and the sentence an operator reads when it does not parse
(``SettingsError``). The list of every variable is ``sandbox.settings``; this module is its
vocabulary and imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "ASSAY_"
#: The types a setting may have (the table's "type" column).
KINDS = ("str", "int", "float", "bool", "path", "url", "list", "choice")
#: The processes that read settings: the web app, the worker, the ``assay`` commands.
READERS = ("web", "worker", "cli")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """One or more ``ASSAY_*`` variables hold a value their setting cannot take.

    ``problems`` lists each one as a sentence that names the variable; ``str()`` joins them.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Setting:
    """One environment variable: how to parse it, and what to say about it in the docs."""

    name: str
    kind: str
    #: The value when the variable is unset or empty; None: the reader works one out
    #: (``default_text`` says how).
    default: Any
    meaning: str
    readers: tuple[str, ...]
    #: The default as the docs show it (else the default itself).
    default_text: str = ""
    #: ``choice``: the values it takes; ``url``: words it takes besides a URL (``outbox``).
    choices: tuple[str, ...] = ()
    #: ``url``: the schemes it takes (empty: any).
    schemes: tuple[str, ...] = ()
    #: ``int``/``float``: the smallest value it takes.
    minimum: float | None = None
    #: ``int``/``float``: what the number counts, for the error message ("seconds").
    unit: str = ""
    #: Never shown (a key or a token).
    secret: bool = False

    @property
    def attr(self) -> str:
        """Its attribute on ``Settings``: ``ASSAY_LEASE_SECONDS`` -> ``lease_seconds``."""
        return self.name.removeprefix(PREFIX).lower()

    def expects(self) -> str:
        """What the variable takes, in words, for error messages."""
        of = f" of {self.unit}" if self.unit else ""
        if self.kind == "int":
            return f"a whole number{of}"
        if self.kind == "float":
            return f"a number{of}"
        if self.kind == "bool":
            return "one of 1, true, yes, on or 0, false, no, off"
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        if self.kind == "url":
            forms = [f"{scheme}://..." for scheme in self.schemes] or ["a URL (scheme://...)"]
            return "one of " + ", ".join([*self.choices, *forms])
        return "a value"

    def parse(self, raw: str | None) -> Any:
        """The value of ``raw`` (the variable's text; None or blank: the default), or
        ``ValueError`` with the sentence an operator reads."""
        if raw is None or not raw.strip():
            return self.default
        text = raw.strip()
        wrong = ValueError(f"{self.name} must be {self.expects()}, got {raw!r}")
        if self.kind in ("int", "float"):
            try:
                value: Any = int(text) if self.kind == "int" else float(text)
            except ValueError:
                raise wrong from None
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{self.name} must be at least {self.minimum:g}, got {raw!r}")
            return value
        if self.kind == "bool":
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise wrong
        if self.kind == "choice":
            if text.lower() not in self.choices:
                raise wrong
            return text.lower()
        if self.kind == "url":
            if text in self.choices:
                return text
            scheme, sep, _ = text.partition("://")
            if not sep or not scheme or (self.schemes and scheme.lower() not in self.schemes):
                raise wrong
            return text
        if self.kind == "path":
            return Path(text).expanduser()
        if self.kind == "list":
            return tuple(item.strip() for item in text.split(",") if item.strip())
        return raw

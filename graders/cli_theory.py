"""``assay theory`` commands: list the question bank and score an answer from a file.

The commands are thin wrappers around :mod:`graders.theory`; an unknown question id or an
invalid bank is an ``AssayError``, which the ``assay`` group prints as one line with a
non-zero exit code.
"""

from __future__ import annotations

import json
from typing import BinaryIO

import click

from graders.theory import LANGUAGES, TheoryScore, load_bank, score_answer

_SPAN_CHARS = 70

lang_option = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="Language of titles, labels and explanations.",
)


@click.group()
def theory() -> None:
    """Theory question bank: list questions, score answers."""


@theory.command("list")
@lang_option
def list_questions(lang: str) -> None:
    """Print the id and title of every question."""
    bank = load_bank()
    width = max(len(question_id) for question_id in bank.ids)
    for question in bank.questions:
        click.echo(f"{question.id:<{width}}  {question.title.get(lang)}")


@theory.command("score")
@click.argument("question_id")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
@lang_option
def score(question_id: str, file: BinaryIO, as_json: bool, lang: str) -> None:
    """Score the answer in FILE (UTF-8 text; '-' reads stdin) to question QUESTION_ID."""
    question = load_bank().get(question_id)
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"not UTF-8 text ({exc.reason})", param_hint="FILE") from None
    result = score_answer(question, text)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_score(result, lang))


def format_score(result: TheoryScore, lang: str = "en") -> str:
    """A plain-text report: the score, then matched and missed points, misconceptions, flags."""
    lines = [f"{result.question_id}: {_number(result.score)} / {_number(result.max_score)}"]
    if result.matched:
        lines.append("matched:")
        for point in result.matched:
            where = "" if point.in_sentence else " (only in a list of terms)"
            lines.append(
                f"  + {point.weight}  {point.label[lang]}: {_quote(point.span.text)}{where}"
            )
    if result.missed:
        lines.append("missed:")
        lines += [f"  - {point.weight}  {point.label[lang]}" for point in result.missed]
    if result.misconceptions:
        lines.append("misconceptions:")
        for hit in result.misconceptions:
            lines.append(f"  ! -{hit.penalty}  {hit.label[lang]}: {_quote(hit.span.text)}")
            lines.append(f"      why: {' '.join(hit.why[lang].split())}")
    if result.flags:
        lines.append("flags:")
        lines += [
            f"  {flag}: {note}" for flag, note in zip(result.flags, result.notes, strict=True)
        ]
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:g}"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _SPAN_CHARS:
        text = text[: _SPAN_CHARS - 1] + "…"
    return f"“{text}”"

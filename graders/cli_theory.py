"""``assay theory`` commands: list the bank, read an answer for evidence, check a rubric and
the concept checks.

The commands are thin wrappers around :mod:`graders.theory`; an unknown question id or an
invalid bank is an ``AssayError``, which the ``assay`` group prints as one line with a
non-zero exit code. ``score`` prints evidence for a reviewer (key points mentioned, possible
misconceptions, with spans) and no number: ``"suggested_score": null`` in its JSON (issue 18).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

import click

from graders.theory import LANGUAGES, Span, TheoryScore, load_bank, score_answer
from graders.theory.check import DEFAULT_FILES, CheckReport, check_answers
from graders.theory.checks import MIN_CHECKS, check_to_dict, verify_bank
from graders.theory.scoring import evidence_notes

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
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print every question with its titles and concept checks as JSON.",
)
@lang_option
def list_questions(as_json: bool, lang: str) -> None:
    """Print the id, title and number of concept checks of every question."""
    bank = load_bank()
    if as_json:
        questions = [
            {
                "id": question.id,
                "order": question.order,
                "title": question.title.as_dict(),
                "misconceptions": [item.id for item in question.misconceptions],
                "checks": [check_to_dict(check) for check in question.checks],
            }
            for question in bank.questions
        ]
        click.echo(json.dumps({"questions": questions}, ensure_ascii=False, indent=2))
        return
    width = max(len(question_id) for question_id in bank.ids)
    for question in bank.questions:
        checks = f"{len(question.checks)} checks"
        click.echo(f"{question.id:<{width}}  {checks:<9}  {question.title.get(lang)}")


@theory.command("score")
@click.argument("question_id")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
@lang_option
def score(question_id: str, file: BinaryIO, as_json: bool, lang: str) -> None:
    """Evidence in the answer in FILE (UTF-8 text; '-' reads stdin) to QUESTION_ID.

    Key points mentioned (with spans) or not, and possible misconceptions to check; no
    score: a reviewer marks each key point (``"suggested_score": null`` in the JSON).
    """
    question = load_bank().get(question_id)
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"not UTF-8 text ({exc.reason})", param_hint="FILE") from None
    result = score_answer(question, text)
    if as_json:
        click.echo(json.dumps(result.evidence_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_score(result, lang))


@theory.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--bank",
    "bank_path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Question folder to test (default: the installed bank).",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    default=0.9,
    show_default=True,
    help="Exit with status 1 when the overall agreement is below this share.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
def check(files: tuple[Path, ...], bank_path: Path | None, min_agreement: float, as_json: bool):
    """Verify the concept checks, then score labelled answers in FILES against their labels.

    Every concept check must have exactly one correct option, distractors that name the
    question's misconceptions, and texts in English and Chinese (loading the bank refuses
    anything else, naming the file and key); every question needs at least four checks.
    A failure exits with status 1 before any answer is scored.

    FILES default to the labelled sets in tests/data (theory_answers.toml and
    theory_adversarial.toml). An answer agrees when its score lies in its band and every
    misconception and flag it expects is found.
    """
    bank = load_bank(bank_path)
    problems = verify_bank(bank)
    if problems:
        for problem in problems:
            click.echo(f"concept checks: {problem}", err=True)
        raise SystemExit(1)
    paths = list(files) or [path for path in DEFAULT_FILES if path.is_file()]
    if not paths:
        raise click.UsageError("no labelled answers found; give the files to check")
    report = check_answers(bank, paths)
    checks = sum(len(question.checks) for question in bank.questions)
    if as_json:
        data = report.to_dict() | {
            "concept_checks": {"checks": checks, "min_per_question": MIN_CHECKS, "problems": []}
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(format_check(report, min_agreement))
        click.echo(
            f"concept checks: {checks} in {len(bank.questions)} questions, all valid "
            f"(at least {MIN_CHECKS} each)"
        )
    if report.agreement < min_agreement:
        raise SystemExit(1)


def format_check(report: CheckReport, min_agreement: float) -> str:
    """Agreement per question, every disagreement, then the overall figure."""
    width = max((len(question) for question in report.per_question), default=8)
    lines = ["agreement per question:"]
    for question, (agree, count) in report.per_question.items():
        lines.append(f"  {question:<{width}}  {agree:>3} / {count:<3}  {agree / count:6.1%}")
    if report.disagreements:
        lines.append(f"disagreements ({len(report.disagreements)}):")
        lines += [f"  {item.file}: {item.describe()}" for item in report.disagreements]
    verdict = "ok" if report.agreement >= min_agreement else "below it"
    lines.append(
        f"overall: {report.agreement:.1%} of {report.total} answers agree "
        f"(threshold {min_agreement:.0%}: {verdict})"
    )
    lines.append(
        "advisory: true (the rubric's total is measured here, never shown to reviewers as a grade)"
    )
    return "\n".join(lines)


def format_score(result: TheoryScore, lang: str = "en") -> str:
    """A plain-text reading: key points mentioned or not, possible misconceptions to check and
    mentions that correct them, with spans; no score (a reviewer marks each point)."""
    lines = [
        f"{result.question_id}: evidence for a reviewer, not a score",
        "suggested_score: none (a reviewer marks each key point)",
    ]
    if result.matched:
        lines.append("mentioned:")
        for point in result.matched:
            where = "" if point.in_sentence else " (only in a list of terms)"
            lines.append(
                f"  * {point.label[lang]}: {_quote(point.span.text)} {_at(point.span)}{where}"
            )
    if result.missed:
        lines.append("not mentioned as a claim:")
        for point in result.missed:
            lines.append(f"  - {point.label[lang]}")
            if point.mention:
                mention = point.mention
                cue = f", cue {_quote(mention.cue.text)}" if mention.cue else ""
                lines.append(
                    f"      {mention.reading}: {_quote(mention.span.text)} {_at(mention.span)}{cue}"
                )
    if result.misconceptions:
        lines.append("possible misconceptions (check):")
        for hit in result.misconceptions:
            lines.append(f"  ? {hit.label[lang]}: {_quote(hit.span.text)} {_at(hit.span)}")
            lines.append(f"      why it would be wrong: {' '.join(hit.why[lang].split())}")
    if result.corrections:
        lines.append("named to correct it:")
        for item in result.corrections:
            lines.append(
                f"  ~ {item.label[lang]} ({item.reading}): {_quote(item.span.text)} {_at(item.span)}"
            )
    if result.flags:
        lines.append("flags:")
        lines += [
            f"  {flag}: {note}"
            for flag, note in zip(result.flags, evidence_notes(result), strict=True)
        ]
    return "\n".join(lines)


def _at(span: Span) -> str:
    return f"[{span.start}:{span.end}]"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _SPAN_CHARS:
        text = text[: _SPAN_CHARS - 1] + "…"
    return f"“{text}”"

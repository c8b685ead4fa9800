"""Plain-text rendering of a report for the terminal."""

from __future__ import annotations

from graders.report import Report, SetScore
from graders.text import clean
from graders.verdicts import of_report

LOG_TAIL_LINES = 20


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _fmt_check(value: float | None, metric: str) -> str:
    """Metrics with four decimals; budget figures (counts, KiB) as whole numbers."""
    if value is not None and metric in ("param_count", "model_kb"):
        return f"{value:,.0f}"
    return _fmt(value)


def _verdict_lines(report: Report) -> list[str]:
    if report.status == "failed":
        err = report.error
        where = f" in {err.phase}" if err.phase else ""
        lines = [f"FAILED{where}: {err.code}", f"  {err.message}"]
        if err.detail:
            lines += [
                "",
                *("  " + line for line in err.detail.rstrip().splitlines()[-LOG_TAIL_LINES:]),
            ]
        return lines
    v = report.verdict
    if v is None:
        return ["NOT SCORED YET"]
    head = of_report(report).text().upper() if v.passed else "BELOW THE BAR"
    if v.borderline:
        head += "  (borderline: within the run-to-run spread of the bar)"
    lines = [head]
    for c in v.checks:
        sign = ">=" if c.higher_is_better else "<="
        status = "met   " if c.met else "missed"
        if c.margin is None:
            margin = ""
        elif c.metric in ("param_count", "model_kb"):
            margin = f"  margin {c.margin:+,.0f}"
        else:
            margin = f"  margin {c.margin:+.4f}"
        bar = _fmt_check(c.bar, c.metric) if c.metric in ("param_count", "model_kb") else c.bar
        lines.append(
            f"  {status} {c.label}: {_fmt_check(c.value, c.metric)} (bar {sign} {bar}){margin}"
        )
    if v.note:
        lines.append(f"  {v.note}")
    return lines


def _set_lines(score: SetScore, class_names: list[str]) -> list[str]:
    lines = [f"{score.name} set ({score.n} examples)"]
    lines += [f"  {mv.label:<28} {_fmt(mv.value)}" for mv in score.metrics]
    if score.per_class:
        lines.append(
            f"  {'class':<12} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8} {'predicted':>9}"
        )
        pc = score.per_class
        for i, name in enumerate(class_names):
            lines.append(
                f"  {name:<12} {pc['precision'][i]:>9.4f} {pc['recall'][i]:>9.4f} {pc['f1'][i]:>9.4f}"
                f" {pc['support'][i]:>8} {pc['predicted'][i]:>9}"
            )
    return lines


def _labels_line(report: Report) -> str:
    if report.split.get("kind") == "secret":
        return (
            f"test split: drawn with a secret seed (split {report.split.get('identity')}); the "
            "pool it is drawn from is public, so the shadow test and flags below still count"
        )
    if report.test_labels == "private":
        return "test labels: private (an operator's own test set)"
    return (
        "test labels: PUBLIC (this test set and its labels are published; a pass shows the "
        "model scores on them, and the shadow test and flags below say how far to trust it)"
    )


def _shadow_lines(report: Report) -> list[str]:
    sh = report.shadow
    if not sh:
        return []
    head = "shadow test: FLAGGED" if sh.get("flagged") else "shadow test: ok"
    gap = "n/a" if sh.get("gap") is None else f"{sh['gap']:+.4f}"
    return [
        "",
        head,
        f"  {sh.get('metric')}: test {_fmt(sh.get('test'))}, shadow {_fmt(sh.get('shadow'))}, "
        f"gap {gap} (flagged above {sh.get('max_gap')})",
        f"  shadow inputs: {sh.get('changes')}",
    ]


def render_text(report: Report) -> str:
    """The whole report as text: verdict, metrics vs bars, per-class table, warnings, logs."""
    lines = [f"{report.title} [{report.challenge}] on {report.dataset}/{report.tier}"]
    lines += [_labels_line(report), ""]
    lines += _verdict_lines(report)
    lines += _shadow_lines(report)
    if report.flags:
        lines += ["", "flags for the reviewer (not part of the verdict):"]
        lines += [
            f"  - [{f.get('kind')}]{'' if f.get('line') is None else ' line ' + str(f['line'])}: "
            f"{f.get('message')}"
            for f in report.flags
        ]
    for score in [s for s in (report.test, *report.extra) if s is not None]:
        lines += ["", *_set_lines(score, report.class_names)]
    if report.runs:
        lines += ["", "runs:"] + [
            f"  seed {r.get('seed')}: {_fmt(r.get('value'))}"
            + ("" if r.get("shadow_gap") is None else f"  (shadow gap {r['shadow_gap']:+.4f})")
            for r in report.runs
        ]
    if report.history:
        epochs = max(len(v) for v in report.history.values())
        lines += [
            "",
            f"training curves: {epochs} epochs of {', '.join(sorted(report.history))}, "
            "as reported by the candidate's code (not measured by the platform)",
        ]
    if report.warnings:
        lines += ["", "warnings:", *(f"  - {w}" for w in report.warnings)]
    if report.reproducibility:
        lines += [
            "",
            "reproducibility:",
            *(
                f"  {k}: {v}"
                if k != "reported_by_sandbox"
                else f"  as reported by the candidate's code (not verified): {v}"
                for k, v in report.reproducibility.items()
            ),
        ]
    for stream, text in report.logs.items():
        if text.strip():
            tail = text.rstrip().splitlines()[-LOG_TAIL_LINES:]
            lines += ["", f"{stream} (last {len(tail)} lines):", *(f"  {line}" for line in tail)]
    # Every string in a report is cleaned when it is built; this is the last line of defence
    # for a terminal (a report file from elsewhere, a field added later).
    return clean("\n".join(lines) + "\n")

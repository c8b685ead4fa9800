"""Report plots as SVG strings: confusion matrix, ROC curve, training curves.

Matplotlib with the Agg backend (no display); each function takes plain report
data and returns a self-contained ``<svg>`` document the web page can inline.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams["svg.fonttype"] = "none"  # keep text as text: smaller, selectable, searchable


def _to_svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def confusion_svg(matrix: list[list[int]], class_names: list[str]) -> str:
    """Heatmap of the confusion matrix (rows true, columns predicted) with counts."""
    size = max(3.5, 0.45 * len(class_names) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues")
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if count > peak / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color=colour)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45 if len(class_names) > 4 else 0)
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _to_svg(fig)


def roc_svg(roc: dict[str, list[float]], auc: float | None) -> str:
    """ROC curve: true positive rate against false positive rate, with the chance diagonal."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    label = f"model (AUC = {auc:.3f})" if auc is not None else "model"
    ax.plot(roc["fpr"], roc["tpr"], label=label, linewidth=1.8)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate (FPR)")
    ax.set_ylabel("true positive rate (TPR, recall)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    return _to_svg(fig)


CURVES_CAPTION = (
    "Training curves as reported by the candidate's code (not measured by the platform)"
)


def history_svg(history: dict[str, list[float]]) -> str | None:
    """Training curves per epoch: losses on one axis, other metrics on a second; None if empty.

    Titled as the candidate's report, which they are (``graders/readback.py``)."""
    series = {k: v for k, v in history.items() if v}
    if not series:
        return None
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(8, 3.2))
    for name, values in sorted(series.items()):
        ax = loss_ax if "loss" in name else metric_ax
        epochs = range(1, len(values) + 1)
        ax.plot(epochs, values, marker="o", markersize=3, label=name)
    for ax, title in ((loss_ax, "loss"), (metric_ax, "metrics")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        if ax.lines:
            ax.legend(fontsize=8)
    # Written by the harness inside the candidate's process: a claim, drawn as one.
    fig.suptitle(CURVES_CAPTION, fontsize=9)
    return _to_svg(fig)


def report_svgs(report) -> dict[str, str]:
    """Every plot that applies to ``report``, by name."""
    svgs = {}
    if report.test is not None:
        svgs["confusion"] = confusion_svg(report.test.confusion, report.class_names)
        if report.test.roc:
            svgs["roc"] = roc_svg(report.test.roc, report.test.value("roc_auc"))
    if curves := history_svg(report.history):
        svgs["history"] = curves
    return svgs

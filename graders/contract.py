"""The dry run's contract steps, their verdict and the words that say what to fix.

One source for ``assay check``, the web's dry run and the self-check candidates run at home:
``check_solution.py`` is generated from this file, the harness, the error catalogue and the
predictions checks (``graders/selfcheck.py`` includes them whole). So this module imports
only the standard library, NumPy, and from ours only single-line imports of the catalogue and
the predictions checks (the generator drops those lines; the names are then defined in the
same file).

The steps, in order: ``contract`` (the file parses, defines what the challenge requires and
imports), ``build`` (``build_model()`` or the script's model), ``train`` (one short training
call on the slice), ``save`` (``model.keras``), ``load`` (the platform's safe load), ``predict``
(a handful of inputs), ``output`` (shape, dtype and range of those predictions) and
``budget`` (parameters and saved size). The first six run in the sandbox; the last two on the
trusted side. A failure marks its step failed and the steps after it skipped.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from graders.catalogue import error_info
from graders.predictions import validate

#: The slice (the first ``ROWS`` examples of the train split), the seed, and how far the
#: harness goes: each ``fit`` stops after ``max_batches`` steps or ``max_seconds``, and
#: ``predict_rows`` inputs are predicted. The same for ``assay check``, the web and at home.
ROWS, SEED = 48, 1234
DRY_RUN = {"max_batches": 1, "max_seconds": 5.0, "predict_rows": 8}

STEPS = ("contract", "build", "train", "save", "load", "predict", "output", "budget")
#: What each step checks, as the candidate reads it.
STEP_LABELS = {
    "contract": (
        "the file parses, defines what is required and imports",
        "文件可解析、定义了必需的函数并能导入",
    ),
    "build": ("build_model() returns a keras.Model", "build_model() 返回 keras.Model"),
    "train": ("one short training call on the small slice", "在小样本上进行一次简短的训练"),
    "save": ("the trained model saves as model.keras", "训练后的模型能保存为 model.keras"),
    "load": (
        "the platform loads it (standard Keras layers only)",
        "平台能加载该模型（仅限 Keras 标准层）",
    ),
    "predict": ("it predicts a handful of inputs", "模型能对少量输入做出预测"),
    "output": ("the predictions' shape, dtype and range", "预测结果的形状、类型和取值范围"),
    "budget": ("the model's size is within the budget", "模型大小在预算之内"),
}
#: Failure classes that belong to one step whatever the sandbox reported as done.
CODE_STEP = {
    **dict.fromkeys(
        (
            "bad_extension",
            "empty",
            "too_large",
            "not_utf8",
            "invalid_notebook",
            "syntax_error",
            "import_error",
            "import_exception",
            "missing_build_model",
            "missing_function",
        ),
        "contract",
    ),
    "build_exception": "build",
    "train_exception": "train",
    "no_model": "train",
    "save_failed": "save",
    "load_failed": "load",
    "unsafe_model": "load",
    "predict_exception": "predict",
    "invalid_predictions": "output",
    "over_budget": "budget",
}


@dataclass
class Step:
    """One step: ``ok``, ``failed`` or ``skipped`` (a step before it failed)."""

    name: str
    status: str
    code: str = ""
    message: str = ""


@dataclass
class Outcome:
    """A dry run's verdict: every step, and the failure's class and message when one failed."""

    steps: list[Step] = field(default_factory=list)
    code: str = ""
    message: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        return not self.code

    @property
    def failed_step(self) -> str:
        return next((s.name for s in self.steps if s.status == "failed"), "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        steps = [Step(**s) for s in data.get("steps") or [] if isinstance(s, dict)]
        return cls(
            steps=steps,
            code=str(data.get("code") or ""),
            message=str(data.get("message") or ""),
            detail=str(data.get("detail") or ""),
        )


def outcome(done: list[str], code: str = "", message: str = "", detail: str = "") -> Outcome:
    """The steps from those reported done and the failure (``code``), if any.

    The failing step is the code's own (``CODE_STEP``), else the first step not done (a
    timeout or a crash stops whatever step ran).
    """
    if not code:
        return Outcome([Step(name, "ok") for name in STEPS])
    failed = CODE_STEP.get(code) or next((s for s in STEPS if s not in done), STEPS[-1])
    steps, reached = [], False
    for name in STEPS:
        if name == failed:
            steps.append(Step(name, "failed", code, message))
            reached = True
        else:
            steps.append(Step(name, "skipped" if reached else "ok"))
    return Outcome(steps, code, message, detail)


def check_predictions(raw, rows: int, num_classes: int) -> tuple[str, str] | None:
    """(code, message) when the handful of predictions would be refused at scoring, else None.

    The same checks as scoring (``graders/predictions.py``: shape, dtype, range, finite).
    """
    try:
        validate(raw, n=rows, num_classes=num_classes)
    except Exception as exc:  # PredictionError: its code says which check failed
        kind = getattr(exc, "code", "")
        return "invalid_predictions", f"{exc} [{kind}]" if kind else str(exc)
    return None


def check_budget(budget: dict, param_count: int | None, model_bytes: int | None) -> str | None:
    """The message when the model is over the challenge's budget (0: no bar), else None."""
    over = []
    max_params, max_kb = budget.get("max_params") or 0, budget.get("max_model_kb") or 0
    if max_params and param_count is not None and param_count > max_params:
        over.append(f"the model has {param_count} parameters; the budget is {max_params}")
    kb = None if model_bytes is None else -(-model_bytes // 1024)
    if max_kb and kb is not None and kb > max_kb:
        over.append(f"the saved model is {kb} KiB; the budget is {max_kb} KiB")
    return "; ".join(over) or None


# -- what to fix, in the candidate's language ----------------------------------------------------

#: (code, pattern of our own message, English, Chinese): the detail that says what to fix.
#: Counts of the hidden test set never show: a shape's first dimension is written N.
FIXES = (
    (
        "syntax_error",
        r"syntax error at line (?P<line>\d+)(?:, column \d+)?: (?P<msg>.+)",
        "Line {line}: {msg}.",
        "第 {line} 行：{msg}。",
    ),
    (
        "invalid_predictions",
        r"predictions have shape \((?P<got>[^)]*)\); expected \(\d+,\) class ids or "
        r"\(\d+, (?P<classes>\d+)\) probabilities",
        "Expected shape (N, {classes}) probabilities or (N,) class ids; got {got}. "
        "The model must give one answer per input.",
        "应为形状 (N, {classes}) 的概率或 (N,) 的类别编号；实际为 {got}。模型必须对每个输入给出一个答案。",
    ),
    (
        "invalid_predictions",
        r"probabilities have (?P<cols>\d+) columns; expected one per class \((?P<classes>\d+)\)",
        "Expected shape (N, {classes}); got (N, {cols}): one probability per class.",
        "应为形状 (N, {classes})；实际为 (N, {cols})：每个类别一个概率。",
    ),
    (
        "invalid_predictions",
        r"got \d+ predictions for \d+ test inputs",
        "Return exactly one prediction per input.",
        "请对每个输入恰好返回一个预测。",
    ),
    (
        "invalid_predictions",
        r"probabilities must lie in \[0, 1\]",
        "Probabilities must lie in [0, 1]: end the model with softmax or sigmoid.",
        "概率必须在 [0, 1] 之间：请在模型末尾使用 softmax 或 sigmoid。",
    ),
    (
        "invalid_predictions",
        r"are NaN or infinite",
        "Some predictions are NaN or infinite: the model diverged.",
        "部分预测为 NaN 或无穷大：模型训练发散了。",
    ),
    (
        "timeout",
        r"limit of (?P<limit>[\d.]+) s",
        "Limit hit: {limit} s.",
        "触及限制：{limit} 秒。",
    ),
    (
        "out_of_memory",
        r"more than its (?P<limit>\d+) MB of memory",
        "Limit hit: {limit} MB of memory.",
        "触及限制：{limit} MB 内存。",
    ),
    (
        "too_many_processes",
        r"limit of (?P<limit>\d+) processes",
        "Limit hit: {limit} processes or threads.",
        "触及限制：{limit} 个进程或线程。",
    ),
    (
        "import_error",
        r"module '(?P<name>[^']+)' is not available",
        "Module {name} is not installed in the grader: use TensorFlow/Keras and NumPy only.",
        "评测环境中没有安装模块 {name}：请只使用 TensorFlow/Keras 和 NumPy。",
    ),
    (
        "unsafe_model",
        r"needs code of its own to load \((?P<names>[^)]*)\)",
        "Replace {names} with built-in Keras layers and options.",
        "请用 Keras 内置的层和选项替换 {names}。",
    ),
    (
        "missing_build_model",
        r"\(it defines (?P<found>.*?)\)(?: and|;)",
        "Rename your model function ({found}) to build_model().",
        "请把模型函数（{found}）重命名为 build_model()。",
    ),
    (
        "over_budget",
        r"has (?P<value>\d+) parameters; the budget is (?P<bar>\d+)",
        "The model has {value} parameters; the budget is {bar}: make it smaller.",
        "模型有 {value} 个参数，预算为 {bar}：请缩小模型。",
    ),
    (
        "over_budget",
        r"saved model is (?P<value>\d+) KiB; the budget is (?P<bar>\d+) KiB",
        "The saved model is {value} KiB; the budget is {bar} KiB: make it smaller.",
        "保存的模型为 {value} KiB，预算为 {bar} KiB：请缩小模型。",
    ),
)


def _n_shape(text: str) -> str:
    """A shape with its first dimension written N: ``1000, 5, 5, 10`` -> ``(N, 5, 5, 10)``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return "(" + ", ".join(["N", *parts[1:]]) + ("," if len(parts) == 1 else "") + ")"


def fix_detail(code: str, message: str, lang: str = "en") -> str:
    """The localized detail that says what to fix, read from our own ``message``; "" if none."""
    zh = lang.lower().startswith("zh")
    for fix_code, pattern, en_text, zh_text in FIXES:
        found = re.search(pattern, message or "") if fix_code == code else None
        if found:
            params = dict(found.groupdict())
            if "got" in params:
                params["got"] = _n_shape(params["got"])
            return (zh_text if zh else en_text).format(**params)
    return ""


def explain(code: str, message: str, lang: str = "en") -> str:
    """What a candidate reads for a failure: the catalogue's words and what to fix.

    Where no fix is known, the English message follows (it names the candidate's own
    exception or the limit hit).
    """
    words = error_info(code).message(lang)
    fix = fix_detail(code, message, lang)
    if fix:
        return words + ("" if lang.lower().startswith("zh") else " ") + fix
    return f"{words} ({message})" if message else words


def render(result: Outcome, lang: str = "en") -> list[str]:
    """The steps as text lines: ``ok``, the failure's class and what to fix, or skipped."""
    zh = lang.lower().startswith("zh")
    lines = []
    for step in result.steps:
        label = STEP_LABELS[step.name][1 if zh else 0]
        if step.status == "ok":
            lines.append(f"  ok    {step.name:<9} {label}")
        elif step.status == "failed":
            lines.append(f"  FAIL  {step.name:<9} {label}: {step.code}")
            lines.append(f"        {explain(step.code, step.message, lang)}")
        else:
            lines.append(f"  -     {step.name:<9} {label}")
    if not result.steps and result.code:  # the platform failed: no step of the code ran
        lines.append(f"  {result.code}: {explain(result.code, result.message, lang)}")
    verdict = (
        ("通过：提交符合接口约定。" if zh else "passed: the submission meets the contract.")
        if result.passed
        else (
            "未通过：请按上面的提示修改后再提交。"
            if zh
            else "failed: fix what the failed step says, then check again."
        )
    )
    lines.append(verdict)
    return lines


def is_candidate_code(code: str) -> bool:
    """Whether ``code`` is the submission's doing (a platform failure is no verdict on it)."""
    return error_info(code).audience == "candidate"

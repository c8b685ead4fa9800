"""The error catalogue: every way a grading can fail, who is at fault, and what to tell them.

A failed ``Report`` carries one of these codes. Each says:

- ``audience``: ``candidate`` (the submission caused it: it costs the candidate an attempt
  and the message tells them what to change) or ``platform`` (Assay or its host failed: no
  attempt is used, and the worker may try again);
- ``retry``: whether a worker grades it again by itself (bounded attempts);
- a plain-language message in English and Chinese, shown before any log.

Trust rule: a code read back from a sandbox is the candidate's claim. Only candidate-side
codes are accepted from there (``from_sandbox``); anything else becomes ``crashed``, so a
submission cannot make its failure look like the platform's and earn free retries.
``platform_error`` and ``sandbox_unavailable`` are produced only by host code.
"""

from __future__ import annotations

from enum import Enum

CANDIDATE, PLATFORM = "candidate", "platform"


class ErrorCode(Enum):
    """One failure class. ``value`` is the code stored in reports and shown in the CLI."""

    def __new__(cls, code: str, audience: str, retry: bool, en: str, zh: str):
        member = object.__new__(cls)
        member._value_ = code
        member.audience, member.retry, member.en, member.zh = audience, retry, en, zh
        return member

    @property
    def code(self) -> str:
        return self.value

    def message(self, lang: str = "en") -> str:
        """The plain-language explanation, in ``lang`` (``zh*`` for Chinese, else English)."""
        return self.zh if lang.lower().startswith("zh") else self.en

    # -- the file itself (checked before any sandbox) ------------------------------------------
    BAD_EXTENSION = (
        "bad_extension",
        CANDIDATE,
        False,
        "Upload a Python file (.py) or a Jupyter notebook (.ipynb).",
        "请上传 Python 文件（.py）或 Jupyter 笔记本（.ipynb）。",
    )
    EMPTY = ("empty", CANDIDATE, False, "The file is empty.", "文件为空。")
    TOO_LARGE = (
        "too_large",
        CANDIDATE,
        False,
        "The file is larger than the upload limit.",
        "文件超过了上传大小限制。",
    )
    NOTEBOOK_OUTPUTS_TOO_LARGE = (
        "notebook_outputs_too_large",
        CANDIDATE,
        False,
        "The notebook is over the upload limit because of its cell outputs (plots, printed "
        "logs). Clear them (Jupyter: Edit → Clear Outputs of All Cells, or Kernel → Restart "
        "Kernel and Clear Outputs), save, and upload it again: outputs are not graded.",
        "笔记本因单元格输出（图表、打印的日志）而超过上传大小限制。请清除所有输出（Jupyter："
        "Edit → Clear Outputs of All Cells，或 Kernel → Restart Kernel and Clear Outputs），"
        "保存后重新上传：输出不参与评分。",
    )
    NOT_UTF8 = (
        "not_utf8",
        CANDIDATE,
        False,
        "The file is not UTF-8 text; save it as UTF-8 and upload it again.",
        "文件不是 UTF-8 文本，请以 UTF-8 编码保存后重新上传。",
    )
    INVALID_NOTEBOOK = (
        "invalid_notebook",
        CANDIDATE,
        False,
        "The notebook is not valid JSON or not a valid Jupyter notebook.",
        "笔记本不是有效的 JSON，或不是有效的 Jupyter 笔记本。",
    )
    SYNTAX_ERROR = (
        "syntax_error",
        CANDIDATE,
        False,
        "The code has a syntax error; the message gives the line.",
        "代码有语法错误，错误信息中给出了行号。",
    )
    # -- running the candidate's code ----------------------------------------------------------
    IMPORT_ERROR = (
        "import_error",
        CANDIDATE,
        False,
        "The code imports a module the grader does not have; nothing can be installed.",
        "代码导入了评测环境中没有的模块；评测环境无法安装任何软件包。",
    )
    MISSING_BUILD_MODEL = (
        "missing_build_model",
        CANDIDATE,
        False,
        "The file does not define build_model(); see the statement for the contract.",
        "文件没有定义 build_model()，请参阅题目说明中的接口约定。",
    )
    MISSING_FUNCTION = (
        "missing_function",
        CANDIDATE,
        False,
        "The file does not define a function the challenge requires.",
        "文件没有定义题目要求的函数。",
    )
    NOT_A_MODEL = (
        "not_a_model",
        CANDIDATE,
        False,
        "build_model() or train() returned something that is not a keras.Model.",
        "build_model() 或 train() 返回的不是 keras.Model。",
    )
    NO_MODEL = (
        "no_model",
        CANDIDATE,
        False,
        "The script never called model.fit(), so there is no trained model to grade.",
        "脚本从未调用 model.fit()，因此没有可评测的已训练模型。",
    )
    IMPORT_EXCEPTION = (
        "import_exception",
        CANDIDATE,
        False,
        "The code raised an exception while the file was being loaded.",
        "加载文件时代码抛出了异常。",
    )
    BUILD_EXCEPTION = (
        "build_exception",
        CANDIDATE,
        False,
        "build_model() raised an exception.",
        "build_model() 抛出了异常。",
    )
    TRAIN_EXCEPTION = (
        "train_exception",
        CANDIDATE,
        False,
        "Training raised an exception.",
        "训练过程中抛出了异常。",
    )
    PREDICT_EXCEPTION = (
        "predict_exception",
        CANDIDATE,
        False,
        "Predicting raised an exception.",
        "预测过程中抛出了异常。",
    )
    SAVE_FAILED = (
        "save_failed",
        CANDIDATE,
        False,
        "The trained model could not be saved as a .keras file.",
        "训练好的模型无法保存为 .keras 文件。",
    )
    LOAD_FAILED = (
        "load_failed",
        CANDIDATE,
        False,
        "The saved model could not be loaded again for predicting.",
        "保存的模型无法重新加载用于预测。",
    )
    UNSAFE_MODEL = (
        "unsafe_model",
        CANDIDATE,
        False,
        "The saved model needs code of its own to load (a custom layer or function, or a "
        "Lambda layer); this challenge loads models with standard Keras layers only.",
        "保存的模型需要自定义代码才能加载（自定义层或函数，或 Lambda 层）；"
        "本题只用 Keras 标准层加载模型。",
    )
    NETWORK_BLOCKED = (
        "network_blocked",
        CANDIDATE,
        False,
        "The code tried to use the network; graders have no network access.",
        "代码尝试访问网络；评测环境没有网络。",
    )
    TIMEOUT = (
        "timeout",
        CANDIDATE,
        False,
        "The code ran past the time limit of its phase.",
        "代码运行超过了该阶段的时间限制。",
    )
    OUT_OF_MEMORY = (
        "out_of_memory",
        CANDIDATE,
        False,
        "The code used more memory than the limit.",
        "代码使用的内存超过了限制。",
    )
    TOO_MANY_PROCESSES = (
        "too_many_processes",
        CANDIDATE,
        False,
        "The code started more processes or threads than the limit allows.",
        "代码启动的进程或线程数量超过了限制。",
    )
    OUTPUT_TOO_LARGE = (
        "output_too_large",
        CANDIDATE,
        False,
        "The code printed or wrote more than the output limit.",
        "代码输出或写入的数据超过了限制。",
    )
    CRASHED = (
        "crashed",
        CANDIDATE,
        False,
        "The code's process was killed or exited without reporting a result.",
        "代码所在的进程被终止，或在报告结果之前退出。",
    )
    INVALID_OUTPUT = (
        "invalid_output",
        CANDIDATE,
        False,
        "What the code left in its output folder is not what the grader expects.",
        "代码在输出目录中留下的内容不符合评测要求。",
    )
    INVALID_PREDICTIONS = (
        "invalid_predictions",
        CANDIDATE,
        False,
        "The predictions have the wrong length, shape or type, or values out of range.",
        "预测结果的长度、形状或类型不正确，或取值超出范围。",
    )
    OVER_BUDGET = (
        "over_budget",
        CANDIDATE,
        False,
        "The model is over the challenge's budget (parameters or saved size): a model over "
        "it cannot pass.",
        "模型超出了本题的预算（参数数量或保存后的大小）：超出预算的模型无法通过。",
    )
    # -- not the candidate's doing -------------------------------------------------------------
    CANCELLED = (
        "cancelled",
        PLATFORM,
        False,
        "The grading was cancelled before it finished; it does not count as an attempt.",
        "评测在完成之前被取消，不计入提交次数。",
    )
    SANDBOX_UNAVAILABLE = (
        "sandbox_unavailable",
        PLATFORM,
        True,
        "No sandbox could be started on the grading machine. This is not your fault and "
        "does not use an attempt; the platform tries again a few times by itself.",
        "评测机器无法启动沙箱。这不是你的问题，也不占用提交次数；平台会自动重试几次。",
    )
    PLATFORM_ERROR = (
        "platform_error",
        PLATFORM,
        True,
        "The grading platform failed. This is not your fault and does not use an attempt; "
        "the platform tries again a few times by itself.",
        "评测平台出现故障。这不是你的问题，也不占用提交次数；平台会自动重试几次。",
    )


#: The only warnings a sandbox may give: codes, rendered here in the host's own words. A
#: sandbox's warning is the candidate's claim (its code runs in the harness's process), so
#: free text from there goes nowhere and an unknown code is dropped.
SANDBOX_WARNINGS = {
    "predict_not_called": "predict() is not called in this challenge: the platform loads the "
    "saved model and calls model.predict(x) (see the statement)",
    "train_not_called": "train() is not called in this challenge; the platform's default "
    "training ran instead",
    "train_returned_none": "train() returned None; the model it was given is graded",
}


def sandbox_warnings(codes: list[object]) -> list[str]:
    """The host's text for each known warning code from a sandbox, in order, without repeats;
    anything else (free text, unknown codes) is dropped."""
    seen = []
    for code in codes:
        if isinstance(code, str) and code in SANDBOX_WARNINGS and code not in seen:
            seen.append(code)
    return [SANDBOX_WARNINGS[code] for code in seen]


_BY_CODE = {member.value: member for member in ErrorCode}
#: Codes a sandbox may report about the code it ran.
SANDBOX_CODES = frozenset(code for code, m in _BY_CODE.items() if m.audience == CANDIDATE)


def error_info(code: str) -> ErrorCode:
    """The catalogue entry of ``code``; an unknown code is treated as ``crashed``."""
    return _BY_CODE.get(code, ErrorCode.CRASHED)


def from_sandbox(code: object) -> ErrorCode:
    """A code the sandbox claimed, accepted only when it is a candidate-side code."""
    return _BY_CODE[code] if isinstance(code, str) and code in SANDBOX_CODES else ErrorCode.CRASHED


def is_platform(code: str) -> bool:
    """Whether ``code`` is the platform's fault (no attempt used)."""
    return error_info(code).audience == PLATFORM

"""What the dry run must say about each known file: the examples, the references, the starters
and the contract errors of ``tests/data/contract``. Shared by the sandbox test and the
self-check test, so both give the same verdict on every file."""

from __future__ import annotations

from pathlib import Path

CONTRACT = Path("tests/data/contract")

#: (file, challenge, expected code ("" = passes), failed step, words the candidate must read).
CASES = [
    ("challenges/lenet5-mnist/reference/solution.py", "lenet5-mnist", "", "", ""),
    ("challenges/lenet5-mnist/reference/solution.ipynb", "lenet5-mnist", "", "", ""),
    ("challenges/lenet5-mnist/reference/solution_script.py", "lenet5-mnist", "", "", ""),
    ("challenges/lenet5-mnist/starter.py", "lenet5-mnist", "", "", ""),
    ("challenges/sentiment-bilstm/reference/solution.py", "sentiment-bilstm", "", "", ""),
    ("challenges/sentiment-bilstm/starter.py", "sentiment-bilstm", "", "", ""),
    # Undertrained examples meet the contract: only the full grading finds them below the bar.
    ("challenges/lenet5-mnist/examples/undertrained.py", "lenet5-mnist", "", "", ""),
    ("challenges/sentiment-bilstm/examples/undertrained.py", "sentiment-bilstm", "", "", ""),
    (
        "challenges/lenet5-mnist/examples/wrong_shape.py",
        "lenet5-mnist",
        "invalid_predictions",
        "output",
        "got (N, 5, 5, 10)",
    ),
    (
        "challenges/sentiment-bilstm/examples/per_token_outputs.py",
        "sentiment-bilstm",
        "invalid_predictions",
        "output",
        "got (N, 200, 1)",
    ),
    (
        "challenges/lenet5-mnist/examples/syntax_error.py",
        "lenet5-mnist",
        "syntax_error",
        "contract",
        "Line 9:",
    ),
    (
        "challenges/sentiment-bilstm/examples/syntax_error.py",
        "sentiment-bilstm",
        "syntax_error",
        "contract",
        "Line 15:",
    ),
    (
        "challenges/lenet5-mnist/examples/missing_build_model.py",
        "lenet5-mnist",
        "missing_build_model",
        "contract",
        "lenet5()",
    ),
    (
        "challenges/sentiment-bilstm/examples/missing_build_model.py",
        "sentiment-bilstm",
        "missing_build_model",
        "contract",
        "create_model()",
    ),
    (
        "challenges/lenet5-mnist/examples/crashes_in_train.py",
        "lenet5-mnist",
        "train_exception",
        "train",
        "ValueError",
    ),
    (
        "challenges/sentiment-bilstm/examples/crashes_in_train.py",
        "sentiment-bilstm",
        "train_exception",
        "train",
        "ValueError",
    ),
    (
        "challenges/sentiment-bilstm/examples/uses_tensorflow_addons.py",
        "sentiment-bilstm",
        "import_error",
        "contract",
        "tensorflow_addons",
    ),
    (str(CONTRACT / "custom_layer.py"), "lenet5-mnist", "unsafe_model", "load", "Scale"),
    (str(CONTRACT / "lambda_layer.py"), "lenet5-mnist", "unsafe_model", "load", "Lambda"),
    (
        str(CONTRACT / "over_budget.py"),
        "lenet5-mnist",
        "over_budget",
        "budget",
        "parameters; the budget is 300000",
    ),
    (str(CONTRACT / "not_a_model.py"), "lenet5-mnist", "not_a_model", "build", "list"),
    (str(CONTRACT / "logits.py"), "lenet5-mnist", "invalid_predictions", "output", "[0, 1]"),
    (str(CONTRACT / "build_raises.py"), "lenet5-mnist", "build_exception", "build", "units=-3"),
    (str(CONTRACT / "long_training.py"), "lenet5-mnist", "", "", ""),
]

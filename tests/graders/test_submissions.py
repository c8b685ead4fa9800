"""Upload checks: each broken file gets its own code and a readable message; nothing runs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from graders.cli import main
from graders.submissions import (
    IDENTITY_KEYS,
    MAX_BYTES,
    MAX_SIZE_TEXT,
    SubmissionFacts,
    check_submission,
    describe,
    format_size,
    strip_identity,
)
from sandbox import harness


def notebook(*sources: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return nbformat.writes(nb).encode()


@pytest.mark.parametrize(
    ("filename", "data", "code", "words"),
    [
        ("solution.txt", b"x = 1", "bad_extension", ".py file or a .ipynb"),
        ("solution.py", b"", "empty", "empty"),
        ("solution.py", b"   \n", "empty", "empty"),
        ("solution.py", b"x = 'caf\xe9'", "not_utf8", "offset 8"),
        ("solution.py", b"def build_model(:\n    pass\n", "syntax_error", "line 1"),
        ("solution.py", b"x = 1\n\x00", "syntax_error", "cannot be parsed"),
        ("solution.py", b"x = " + b"(" * 5000 + b")" * 5000, "syntax_error", ""),
        ("solution.ipynb", b"{not json", "invalid_notebook", "not valid JSON"),
        (
            "solution.ipynb",
            json.dumps({"cells": 3}).encode(),
            "invalid_notebook",
            "not a valid Jupyter",
        ),
        ("solution.ipynb", notebook("def f(:\n  pass"), "syntax_error", "line 1"),
    ],
)
def test_broken_uploads_are_refused_with_a_specific_code(filename, data, code, words):
    problem = check_submission(filename, data)
    assert problem is not None and problem.code == code
    assert words in problem.message


def test_a_50_megabyte_file_is_refused_by_size():
    problem = check_submission("solution.py", b"#" * (50 * 1024 * 1024))
    assert problem.code == "too_large"
    # One constant written one way everywhere (graders.submissions.MAX_SIZE_TEXT).
    assert problem.message == "the file is 50 MB; the limit is 2 MB"
    assert MAX_SIZE_TEXT == format_size(MAX_BYTES) == "2 MB"


def test_sizes_are_written_one_way():
    assert format_size(MAX_BYTES + 1) == "2.1 MB"  # never written as equal to the limit
    assert format_size(2_400_000) == "2.3 MB"
    assert format_size(50_000) == "49 KB"


def _notebook(code: str, output_bytes: int) -> bytes:
    output = {"output_type": "stream", "name": "stdout", "text": "x" * output_bytes}
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "source": code,
        "outputs": [output] if output_bytes else [],
    }
    notebook = {
        "cells": [cell],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook).encode()


def test_a_notebook_too_large_because_of_its_outputs_says_to_clear_them():
    data = _notebook("def build_model():\n    return None\n", MAX_BYTES + 1000)
    problem = check_submission("work.ipynb", data)
    assert problem.code == "notebook_outputs_too_large"
    assert "cell outputs" in problem.message and "clear the outputs" in problem.message
    assert "the limit is 2 MB" in problem.message
    from graders.catalogue import error_info

    assert "Clear" in error_info(problem.code).message("en")
    assert "清除" in error_info(problem.code).message("zh")


def test_a_notebook_too_large_by_its_code_is_plainly_too_large():
    code = "x = 1\n" + "# " + "y" * (MAX_BYTES + 10) + "\n"
    problem = check_submission("work.ipynb", _notebook(code, 10))
    assert problem.code == "too_large"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("solution.py", b"import keras\n\ndef build_model():\n    return None\n"),
        ("Solution.PY", b"x = 1\n"),
        ("solution.ipynb", notebook("%matplotlib inline\nimport keras", "!pip list\nx = 1")),
    ],
)
def test_valid_uploads_pass(filename, data):
    assert check_submission(filename, data) is None


def test_assay_grade_refuses_a_broken_file_without_a_sandbox(prepared_data, tmp_path):
    bad = tmp_path / "solution.py"
    bad.write_bytes(b"def build_model(:\n")
    result = CliRunner().invoke(
        main, ["grade", str(bad), "--challenge", "lenet5-mnist", "--sandbox", "bwrap"]
    )
    assert result.exit_code == 2
    assert "syntax_error" in result.output and "line 1" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("slug", "line"), [("lenet5-mnist", "line 9"), ("sentiment-bilstm", "line 15")]
)
def test_syntax_error_examples_are_refused_at_upload(slug, line):
    from graders.challenges import get_challenge

    path = get_challenge(slug).path("examples/syntax_error.py")
    problem = check_submission(path.name, path.read_bytes())
    assert problem.code == "syntax_error"
    assert line in problem.message


# -- sources as editors save them (issue 19, finding 6) --------------------------------------------

REFERENCE = Path(__file__).resolve().parents[2] / "challenges/lenet5-mnist/reference/solution.py"


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda b: b"\xef\xbb\xbf" + b, id="utf-8 byte-order mark"),
        pytest.param(lambda b: b.replace(b"\n", b"\r\n"), id="CRLF"),
        pytest.param(lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"), id="BOM and CRLF"),
        pytest.param(lambda b: b.replace(b"\n", b"\r"), id="CR"),
        pytest.param(lambda b: b.replace(b"    ", b"\t"), id="tab indents"),
    ],
)
def test_a_correct_solution_saved_by_any_editor_passes(transform, tmp_path):
    data = transform(REFERENCE.read_bytes())

    assert check_submission("solution.py", data) is None
    path = tmp_path / "solution.py"
    path.write_bytes(data)
    assert describe(path) == SubmissionFacts("function", "python")


def test_a_notebook_with_a_byte_order_mark_and_crlf_passes(tmp_path):
    data = b"\xef\xbb\xbf" + notebook(
        "import keras\r\n\r\ndef build_model():\r\n    return None\r\n"
    )

    assert check_submission("solution.ipynb", data) is None


@pytest.mark.parametrize(
    "line",
    [
        "x = !ls",
        "files = !ls -la /data",
        "a, b = %who_ls",
        "t = %timeit -o sum(range(10))",
        "%matplotlib inline",
        "!pip install tensorflow_addons",
        "np.mean?",
        "??keras.Model",
    ],
)
def test_ipython_forms_are_dropped_with_a_warning(line, tmp_path):
    data = notebook(
        "import numpy as np\n" + line + "\nx = 1\ny = x != 3\n", "%%bash\necho | grep x\n"
    )

    assert check_submission("solution.ipynb", data) is None
    path = tmp_path / "solution.ipynb"
    path.write_bytes(data)
    facts = describe(path)
    assert facts.form == "notebook" and facts.mode == "script"
    assert facts.warnings == (
        f"cell 1: dropped IPython line {line!r}",
        "cell 2: dropped the cell magic cell '%%bash'",
    )


def test_python_that_looks_like_magic_is_kept():
    source, dropped = harness.notebook_source(
        notebook("y = x != 3\nz = a % b\nw = {'k': 1}  # what?\nprint('!ls')\n").decode()
    )

    assert dropped == [] and "y = x != 3" in source and "print('!ls')" in source


def test_the_mode_is_the_hosts_parse(tmp_path):
    path = tmp_path / "solution.py"
    path.write_text("import keras\nmodel = keras.Sequential()\n")

    assert describe(path).mode == "script"
    path.write_text("def build_model():\n    pass\n")
    assert describe(path).mode == "function"
    path.write_text("def build_model(:\n")
    assert describe(path) is None


# -- the author's identity ---------------------------------------------------------------------


def test_every_identity_key_goes_from_the_notebook_and_its_cells_the_rest_stays():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1  # Ann's code")])
    names = {key: f"Ann Lee ({key})" for key in IDENTITY_KEYS}
    nb.metadata.update(names, kernelspec={"name": "python3", "display_name": "Python 3"})
    nb.cells[0].metadata.update(names, tags=["keep"])
    data = json.loads(nbformat.writes(nb))
    data["cells"].append({"cell_type": "raw", "source": "", "metadata": "not a dict"})
    stripped = json.loads(strip_identity(b"\xef\xbb\xbf" + json.dumps(data).encode()))
    assert "Ann Lee" not in json.dumps(stripped)
    assert stripped["metadata"]["kernelspec"]["name"] == "python3"
    assert stripped["cells"][0]["metadata"] == {"tags": ["keep"]}
    assert stripped["cells"][0]["source"] == data["cells"][0]["source"]  # as written
    assert stripped["cells"][1]["metadata"] == "not a dict"
    # The union of the lists the upload and the grading kept apart before.
    assert {"authors", "author", "creator", "last_modified_by", "email", "user", "username"} <= set(
        IDENTITY_KEYS
    )


def test_a_notebook_without_identity_or_that_does_not_parse_is_returned_as_it_came():
    plain = notebook("def build_model():\n    pass\n")
    assert strip_identity(plain) is plain
    for data in (b"{broken", b"[1, 2]", b"\xff\xfe", b"[" * 100_000):
        assert strip_identity(data) == data
    # A key present with no value names nobody, and is removed all the same.
    nulls = json.dumps({"metadata": {"user": None}, "cells": [{"metadata": {"author": ""}}]})
    assert json.loads(strip_identity(nulls.encode())) == {
        "metadata": {},
        "cells": [{"metadata": {}}],
    }

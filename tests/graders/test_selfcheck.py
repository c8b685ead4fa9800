"""The self-check candidates run at home (``check_solution.py``): one file generated from the
grader's own code, its public slice from the train split only, and the same verdict as the
platform's dry run on every known file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from graders.challenges import all_challenges, get_challenge
from graders.contract import ROWS, explain
from graders.datasets import open_dataset
from graders.selfcheck import check_data_path, generate
from tests.grading.dry_run_cases import CASES


@pytest.mark.parametrize("slug", sorted(all_challenges()))
def test_the_self_check_is_one_file_that_imports_nothing_of_ours(slug):
    text = generate(get_challenge(slug))
    compile(text, "check_solution.py", "exec")
    for ours in ("from graders", "import graders", "from sandbox", "import sandbox"):
        assert ours not in text
    assert "thresholds" not in text  # no pass bar beyond the statement's
    assert '"num_classes"' in text and "max_params" in text


@pytest.mark.parametrize("slug", sorted(all_challenges()))
def test_the_shipped_slice_is_the_first_train_rows_and_none_of_the_test_set(slug, prepared_data):
    challenge = get_challenge(slug)
    dataset = open_dataset(challenge.spec.dataset.name, challenge.spec.dataset.default_tier)
    with np.load(check_data_path(challenge), allow_pickle=False) as shipped:
        x, y = shipped["x"], shipped["y"]
    train_x = dataset.load_x("train")[:ROWS]
    assert len(x) == ROWS
    assert (
        [str(a) for a in x] == [str(a) for a in train_x]
        if x.dtype.kind == "U"
        else (np.array_equal(x, train_x))
    )
    assert np.array_equal(y, dataset.load_y("train")[:ROWS])
    test_rows = {
        (str(row) if x.dtype.kind == "U" else np.asarray(row).tobytes())
        for row in dataset.load_x("test")
    }
    assert not any(
        (str(row) if x.dtype.kind == "U" else np.asarray(row).tobytes()) in test_rows for row in x
    )


RUNNER = textwrap.dedent(
    """
    import importlib.util, json, sys
    from pathlib import Path

    folder, cases = Path(sys.argv[1]), json.loads(sys.argv[2])
    modules = {}
    results = []
    for path, slug in cases:
        if slug not in modules:
            spec = importlib.util.spec_from_file_location(
                "check_" + slug.replace("-", "_"), folder / slug / "check_solution.py"
            )
            modules[slug] = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = modules[slug]  # dataclasses look their module up
            spec.loader.exec_module(modules[slug])
        mod = modules[slug]
        verdict = mod.run_self_check(Path(path), folder / slug / "check_data.npz")
        results.append([verdict.code, verdict.failed_step, verdict.message])
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.mark.slow
def test_the_self_check_gives_the_dry_runs_verdict_on_every_known_file(tmp_path):
    for slug in all_challenges():
        folder = tmp_path / slug
        folder.mkdir()
        challenge = get_challenge(slug)
        (folder / "check_solution.py").write_text(generate(challenge), encoding="utf-8")
        (folder / "check_data.npz").write_bytes(check_data_path(challenge).read_bytes())
    cases = [[str(Path(path).resolve()), slug] for path, slug, *_ in CASES]
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=900,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, done.stderr[-3000:]
    results = json.loads(lines[-1][len("RESULTS ") :])
    for (path, _slug, code, step, words), (got, got_step, message) in zip(
        CASES, results, strict=True
    ):
        assert (got, got_step) == (code, step), (path, message)
        if words:
            assert words in explain(code, message, "en"), (path, message)

"""Reading a stored report back (``Report.from_json``): typed, tolerant of older and
hand-written shapes, and never an exception, whatever the text."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from graders.report import (
    LOG_TAIL,
    UNREADABLE,
    ErrorInfo,
    Headline,
    Report,
    ThresholdCheck,
    UnreadableReport,
    Verdict,
    failed_report,
    log_tail,
    scrub_paths,
)
from tests.graders.test_report import make_report


def test_a_report_comes_back_equal_and_exports_as_it_was_stored():
    for report in (make_report(), failed_report(make_report(), "syntax_error", "line 3", "train")):
        stored = report.to_json()
        read = Report.from_json(stored)
        assert type(read) is Report and read == report
        # The export (``to_dict`` of what was read) is the stored document itself.
        assert read.to_dict() == json.loads(stored)


def test_the_first_reports_shape_reads_with_the_later_fields_defaulted():
    # As stored before flags, shadow, test_labels, split and outcome existed (57f802a).
    first = make_report().to_dict()
    for key in ("flags", "shadow", "test_labels", "split", "outcome"):
        first.pop(key)
    read = Report.from_json(json.dumps(first))
    assert read.flags == [] and read.shadow == {} and read.split == {}
    assert read.test_labels == "public"
    assert read.verdict == make_report().verdict and read.test == make_report().test


def test_a_hand_written_report_fills_what_it_lacks():
    # The shape the candidate page's tests store: no challenge, no margin, no label.
    text = json.dumps(
        {
            "status": "graded",
            "verdict": {
                "passed": True,
                "checks": [{"metric": "accuracy", "bar": 0.93, "value": 0.9712, "met": True}],
            },
            "future_field": {"from": "a newer version"},
        }
    )
    read = Report.from_json(text)
    assert read.challenge == "" and read.test is None and read.error is None
    assert read.verdict.checks == [
        ThresholdCheck("accuracy", "", 0.93, 0.9712, True, None, higher_is_better=True)
    ]
    assert read.headline() == Headline("accuracy", 0.9712, 0.93)


def test_parts_of_the_wrong_type_are_left_out():
    text = json.dumps(
        {
            "status": "graded",
            "verdict": "passed",
            "test": {"name": "test", "n": "many", "metrics": [{"name": "f1", "value": "high"}, 3]},
            "extra": {"not": "a list"},
            "error": ["syntax_error"],
            "logs": {"train stderr": ["a", "list"], "train stdout": "ok\n"},
            "warnings": ["kept", 7],
            "flags": [{"kind": "shadow", "message": "m"}, {"kind": ["x"]}, "flag"],
            "class_names": "ab",
        }
    )
    read = Report.from_json(text)
    assert read.verdict is None and read.error is None and read.extra == []
    assert read.test.n == 0 and read.test.metrics[0].value is None and len(read.test.metrics) == 1
    assert read.logs == {"train stdout": "ok\n"} and read.warnings == ["kept"]
    assert read.flags == [{"kind": "shadow", "message": "m"}] and read.class_names == []
    assert read.to_dict()["outcome"]["verdict"] == "below_bar"


def test_text_that_is_no_report_is_an_unreadable_report_saying_why():
    for text, said in (
        ("", "not JSON"),
        ('{"status": "graded", "verdict": {', "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ("null", "a JSON NoneType, not an object"),
        (b"\xff\xfe{", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        (None, "not JSON"),
    ):
        read = Report.from_json(text)
        assert isinstance(read, UnreadableReport) and read.status == UNREADABLE
        assert said in read.reason
        assert not read.passed and read.headline() == Headline("", None, None)
        assert read.log_tails() == {} and read.failure_log() == ""
    broken = Report.from_json('{"logs": {"train stderr": "File \\"/home/x/jobs/7/solution.py\\""')
    # An export keeps the stored text (its host paths made short), so nothing is lost.
    assert broken.to_dict() == {
        "status": UNREADABLE,
        "reason": broken.reason,
        "text": '{"logs": {"train stderr": "File \\"…/7/solution.py\\""',
    }


def test_reports_are_stored_without_host_paths_and_read_as_stored():
    report = make_report(logs={"train stderr": 'File "/home/grader/jobs/7/solution.py", line 3'})
    stored = report.to_json()
    assert Report.from_json(stored).logs["train stderr"] == 'File "…/7/solution.py", line 3'
    # Reading is only parsing (migration 0018 scrubbed the rows stored before to_json did).
    text = json.dumps(report.to_dict())
    assert "/home/grader" in Report.from_json(text).logs["train stderr"]


def test_the_headline_is_the_bars_metric_then_the_primary_metric():
    report = make_report()  # primary f1, bars on f1 and error_rate
    assert report.headline() == Headline("f1", 0.75, 0.7)
    report.primary_metric = "roc_auc"  # no bar on it: the first bar's metric
    assert report.headline() == Headline("f1", 0.75, 0.7)
    report.verdict = None  # no bars at all: the primary metric's test value
    assert report.headline() == Headline("roc_auc", 0.9375, None)
    report.test = None
    assert report.headline() == Headline("roc_auc", None, None)


def test_the_failure_log_is_the_failed_phases_stderr_then_stdout_then_the_detail():
    report = make_report(logs={"predict stdout": "out", "predict stderr": "\x1b[31merr\x1b[0m"})
    report.error = ErrorInfo("crashed", "m", phase="predict", detail="Traceback")
    assert report.failure_log() == "err"  # ANSI escapes removed
    report.logs["predict stderr"] = ""
    assert report.failure_log() == "out"
    report.logs = {}
    assert report.failure_log() == "Traceback"
    report.error = None
    report.logs = {"train stderr": "x" * (LOG_TAIL + 10)}
    assert report.failure_log() == "x" * LOG_TAIL
    assert report.log_tails() == {"train stderr": ("x" * LOG_TAIL, True)}


def test_a_log_tail_keeps_the_end_and_removes_terminal_control():
    assert log_tail("a\x1b[2Jb\x07c\n") == ("abc\n", False)
    assert log_tail("0123456789", limit=4) == ("6789", True)


# -- any JSON at all -----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "status",
        "verdict",
        "test",
        "extra",
        "error",
        "logs",
        "flags",
        "runs",
        "class_names",
        "primary_metric",
        "history",
        "split",
        "warnings",
    ]
)
_report_like = st.dictionaries(_keys, _json, max_size=8) | st.fixed_dictionaries(
    {
        "status": st.sampled_from(["graded", "failed", 3]),
        "primary_metric": st.sampled_from(["f1", "", None]),
        "verdict": st.fixed_dictionaries(
            {
                "passed": _json,
                "checks": st.lists(
                    st.dictionaries(
                        st.sampled_from(
                            ["metric", "label", "bar", "value", "met", "margin", "higher_is_better"]
                        ),
                        _json,
                    ),
                    max_size=3,
                ),
            }
        ),
        "test": st.fixed_dictionaries(
            {
                "metrics": st.lists(
                    st.dictionaries(st.sampled_from(["name", "label", "value"]), _json), max_size=3
                )
            }
        ),
        "error": st.dictionaries(st.sampled_from(["code", "message", "phase", "detail"]), _json),
        "logs": st.dictionaries(st.text(max_size=12), _json, max_size=3),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, _report_like))
def test_any_json_reads_as_a_report_whose_page_methods_work(document):
    read = Report.from_json(json.dumps(document))
    assert isinstance(read, Report)
    assert isinstance(read, UnreadableReport) is (not isinstance(document, dict))
    metric, value, bar = read.headline()
    assert isinstance(metric, str) and (value is None or isinstance(value, int | float))
    assert isinstance(read.failure_log(), str) and isinstance(read.log_tails(), dict)
    # What an export writes; read again, it gives the same report.
    if not isinstance(read, UnreadableReport):
        assert Report.from_json(json.dumps(read.to_dict())) == read


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("/ab.~…:- \n"), max_size=40))
def test_making_paths_short_twice_changes_nothing(text):
    once = scrub_paths(text)
    assert scrub_paths(once) == once


def test_a_verdict_round_trips_through_an_older_reader_shape():
    verdict = Verdict(True, [ThresholdCheck("accuracy", "Accuracy", 0.9, 0.95, True, 0.05)])
    report = make_report(verdict=verdict, flags=[{"kind": "source", "message": "m", "line": 3}])
    assert Report.from_dict(json.loads(report.to_json())) == report

"""minigrad.testing.grading: isolated scored checks, time limits, messages, Gradescope results."""

import json
import textwrap

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.grading import (
    OUTPUT_LIMIT,
    Checklist,
    gradescope_results,
    primitives_only,
    prove,
    require,
    write_results,
)
from minigrad.testing.strategies import arrays


def write(tmp_path, source, name="submission.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def toy_checklist():
    """Two checks on a function `double`, written here: a value and a gradient."""
    checks = Checklist()

    @checks.check(points=2)
    def doubles(sub):
        assert require(sub, "double")(3.0) == 6.0, "double(3.0) should be 6.0"

    @checks.check(points=1, hidden=True)
    def doubles_arrays(sub):
        np.testing.assert_array_equal(require(sub, "double")(np.arange(3.0)), [0.0, 2.0, 4.0])

    return checks


def verdicts(results):
    return {r.name: r.passed for r in results}


def test_a_right_submission_scores_every_point(tmp_path):
    results = toy_checklist().run(write(tmp_path, "def double(x):\n    return 2 * x\n"))
    assert verdicts(results) == {"doubles": True, "doubles_arrays": True}
    assert [r.points for r in results] == [2.0, 1.0]


def test_public_checks_only_when_hidden_is_false(tmp_path):
    results = toy_checklist().run(write(tmp_path, "def double(x):\n    return 2 * x\n"), hidden=False)
    assert [r.name for r in results] == ["doubles"]


def test_each_check_scores_separately_and_failures_say_why(tmp_path):
    # right on numbers, wrong on arrays: one check fails, the other still scores
    source = "def double(x):\n    return 6.0 if x == 3.0 else x\n"
    results = toy_checklist().run(write(tmp_path, source))
    assert verdicts(results) == {"doubles": True, "doubles_arrays": False}
    assert "truth value of an array" in results[1].message or "Arrays are not equal" in results[1].message


def test_a_stub_scores_zero_with_a_message_naming_the_line(tmp_path):
    results = toy_checklist().run(write(tmp_path, "def double(x):\n    raise NotImplementedError\n"))
    assert all(not r.passed and r.points == 0 for r in results)
    assert (
        results[0].message
        == "not written yet: NotImplementedError raised (in double, line 2 of submission.py)"
    )


def test_a_missing_name_is_a_failed_check_naming_it(tmp_path):
    results = toy_checklist().run(write(tmp_path, "def twice(x):\n    return 2 * x\n"))
    assert not any(r.passed for r in results)
    assert "defines no 'double'" in results[0].message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def double(x)\n    return 2 * x\n", "submission.py has a syntax error at line 1"),
        ("import numpy\nnumpy.zeros(3)[5]\n", "fails when imported: IndexError"),
    ],
)
def test_a_file_that_does_not_load_fails_every_check_with_the_reason(tmp_path, source, message):
    results = toy_checklist().run(write(tmp_path, source))
    assert [r.passed for r in results] == [False, False]
    assert all(message in r.message for r in results)


def test_a_missing_file_fails_every_check(tmp_path):
    results = toy_checklist().run(tmp_path / "nowhere.py")
    assert all(not r.passed and "there is no file" in r.message for r in results)


def test_an_endless_loop_loses_its_check_and_grading_goes_on(tmp_path):
    source = """
        def double(x):
            if isinstance(x, float):
                while True:
                    pass
            return 2 * x
    """
    results = toy_checklist().run(write(tmp_path, source), time_limit=1.0)
    assert verdicts(results) == {"doubles": False, "doubles_arrays": True}
    assert "did not finish within 1 s" in results[0].message
    assert results[0].seconds < 5


def test_exit_in_the_submission_is_a_failed_check(tmp_path):
    source = "import sys\ndef double(x):\n    sys.exit(3)\n"
    results = toy_checklist().run(write(tmp_path, source))
    assert "called exit(3)" in results[0].message and not results[0].passed
    source = "import os\ndef double(x):\n    os._exit(0)\n"
    results = toy_checklist().run(write(tmp_path, source))
    assert "ended without a verdict" in results[0].message and not results[0].passed


def test_megabytes_of_output_are_cut_and_the_check_still_scores(tmp_path):
    source = "def double(x):\n    print('x' * 3_000_000)\n    return 2 * x\n"
    results = toy_checklist().run(write(tmp_path, source))
    assert all(r.passed for r in results)
    assert len(results[0].output) < OUTPUT_LIMIT + 100
    assert results[0].output.endswith("more bytes of output cut)")


def test_global_state_a_check_changes_is_gone_for_the_next(tmp_path):
    # the first check's call turns off minigrad's grad mode and makes numpy raise on overflow
    source = """
        import numpy as np
        import minigrad
        held = []
        def break_things():
            np.seterr(all="raise")
            held.append(minigrad.no_grad())
            held[-1].__enter__()  # and never left
    """

    def breaks(sub):
        sub.break_things()
        assert not mg.is_grad_enabled() and np.geterr()["over"] == "raise"  # broken for good here

    checks = Checklist()
    checks.add("breaks", 1, breaks)
    checks.add("grad mode is on", 1, lambda sub: None if mg.is_grad_enabled() else 1 / 0)
    checks.add("numpy overflows quietly", 1, lambda sub: np.float64(1e308) * 10)
    results = checks.run(write(tmp_path, source))
    assert verdicts(results) == {"breaks": True, "grad mode is on": True, "numpy overflows quietly": True}
    assert mg.is_grad_enabled()  # and the grader's own process never saw any of it


def test_forbidden_code_is_caught_when_the_submission_runs_it(tmp_path):
    source = """
        import layers
        def dense(x):
            return layers.Dense(2, input_size=3)(x)
    """
    checks = Checklist(forbidden=("layers",))
    checks.add("runs", 1, lambda sub: sub.dense(mg.Tensor(np.ones((1, 3)))))
    checks.add("grader may use it", 1, lambda sub: __import__("layers").Dense(2, input_size=3))
    results = checks.run(write(tmp_path, source))
    assert verdicts(results) == {"runs": False, "grader may use it": True}
    assert "your code ran Dense" in results[0].message and "layers/dense.py" in results[0].message


def test_primitives_only_names_a_fused_op_and_accepts_primitives():
    x = mg.Tensor(np.ones((2, 3)), requires_grad=True)
    primitives_only((x @ x.T).tanh().sum())
    with pytest.raises(AssertionError, match="CrossEntropy"):
        primitives_only(mg.functional.cross_entropy(x, np.array([0, 2])))


def test_prove_names_the_failing_case_and_repeats_with_the_same_seed():
    def prop(case):
        assert case.shape[0] < 2, "too long"

    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError, match="too long") as caught:
            prove(prop, arrays(shape=(3,)), examples=5, seed=0)
        messages.append(str(caught.value))
    assert "on the case: float64 (3,)" in messages[0] and messages[0] == messages[1]


def test_checklist_refuses_bad_points_and_repeated_names():
    checks = Checklist()
    checks.add("a", 1, lambda sub: None)
    with pytest.raises(ValueError, match="points must be a positive number"):
        checks.add("b", 0, lambda sub: None)
    with pytest.raises(ValueError, match="already in the checklist"):
        checks.add("a", 1, lambda sub: None)
    assert [c.name for c in checks.checks] == ["a"]


def test_results_json_has_gradescopes_fields(tmp_path):
    source = "def double(x):\n    print('hello')\n    return 6.0 if x == 3.0 else x\n"
    results = toy_checklist().run(write(tmp_path, source))
    write_results(results, tmp_path / "out" / "results.json")
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data == gradescope_results(results)
    assert data["score"] == 2.0 and isinstance(data["execution_time"], float)
    first, second = data["tests"]
    assert set(first) == {"name", "score", "max_score", "status", "output", "visibility"}
    assert (first["status"], first["visibility"], first["score"], first["max_score"]) == (
        "passed",
        "visible",
        2.0,
        2.0,
    )
    assert (second["status"], second["visibility"], second["score"]) == ("failed", "after_due_date", 0.0)
    assert "what your code printed:\nhello" in first["output"]

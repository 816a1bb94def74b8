"""minigrad.testing.grading: checks in a sandboxed child, verdicts in the grader, results."""

import json
import textwrap

import numpy as np
import pytest

from minigrad.testing.grading import (
    OUTPUT_LIMIT,
    Case,
    Checklist,
    Expect,
    draw,
    gradescope_results,
    write_results,
)
from minigrad.testing.grading.cases import case_from_json, case_to_json
from minigrad.testing.grading.submissions import notebook_code
from minigrad.testing.strategies import arrays
from tests.grading_support import doubling_checklist, sandbox_user


@pytest.fixture(autouse=True)
def _sandbox(monkeypatch):
    monkeypatch.setenv("MINIGRAD_SANDBOX_USER", sandbox_user())


def write(tmp_path, source, name="submission.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def verdicts(results):
    return {r.name: r.passed for r in results}


def test_a_right_submission_scores_every_point(tmp_path):
    results = doubling_checklist().run(write(tmp_path, "def double(x):\n    return 2 * x\n"))
    assert verdicts(results) == {"doubles": True, "doubles_arrays": True}
    assert [r.points for r in results] == [2.0, 1.0]


def test_public_checks_only_when_hidden_is_false(tmp_path):
    results = doubling_checklist().run(write(tmp_path, "def double(x):\n    return 2 * x\n"), hidden=False)
    assert [r.name for r in results] == ["doubles"]


def test_a_wrong_value_fails_naming_the_inputs_and_how_to_rerun(tmp_path):
    results = doubling_checklist().run(write(tmp_path, "def double(x):\n    return x + 2\n"))
    assert verdicts(results) == {
        "doubles": False,
        "doubles_arrays": False,
    }  # right at 3 only by luck? no: 5 != 6
    message = results[0].message
    assert "double(x) is wrong" in message and "got 5, expected 6" in message
    assert "x = np.array(3., dtype=np.float64)" in message and "rerun submission.py" in message
    assert "minigrad" not in message and "probes" not in message


def test_a_stub_scores_zero_with_a_message_naming_the_line(tmp_path):
    results = doubling_checklist().run(write(tmp_path, "def double(x):\n    raise NotImplementedError\n"))
    assert all(not r.passed and r.points == 0 for r in results)
    assert results[0].message.startswith(
        "not written yet: NotImplementedError raised (in double, line 2 of submission.py)"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def double(x)\n    return 2 * x\n", "submission.py has a syntax error at line 1"),
        (
            "import numpy\nnumpy.zeros(3)[5]\ndef double(x):\n    return 2 * x\n",
            "fails when imported: IndexError",
        ),
        ("def twice(x):\n    return 2 * x\n", "double must be defined in your file"),
    ],
)
def test_a_file_that_does_not_load_or_lacks_the_name_fails_every_check(tmp_path, source, message):
    results = doubling_checklist().run(write(tmp_path, source))
    assert [r.passed for r in results] == [False, False]
    assert all(message in r.message for r in results)


def test_a_missing_file_fails_every_check(tmp_path):
    results = doubling_checklist().run(tmp_path / "nowhere.py")
    assert all(not r.passed and "there is no file" in r.message for r in results)


def test_an_endless_loop_loses_its_check_and_grading_goes_on(tmp_path):
    source = """
        def double(x):
            if x.ndim == 0:
                while True:
                    pass
            return 2 * x
    """
    results = doubling_checklist().run(write(tmp_path, source), time_limit=2.0)
    assert verdicts(results) == {"doubles": False, "doubles_arrays": True}
    assert "did not finish within 2 s" in results[0].message


def test_a_time_limit_cut_by_the_budget_reads_as_the_teacher_set_it():
    """The limit left of a 1 s budget is a hair under 1 s; the message rounds it as set."""
    from pathlib import Path

    from minigrad.testing.grading.isolation import ChildReport

    checklist = doubling_checklist()
    report = ChildReport(None, {}, Path("."), "", 1.0, True, None)
    passed, message = checklist._verdict(checklist.checks[0], [], report, "sub.py", 0.999999)
    assert not passed and "did not finish within 1 s" in message


def test_the_budget_per_submission_stops_grading_and_says_so(tmp_path):
    source = "import time\ndef double(x):\n    time.sleep(30)\n"
    results = doubling_checklist().run(write(tmp_path, source), budget=1.0)
    assert not results[0].passed and "did not finish within 1 s" in results[0].message
    assert results[1].skipped and "time budget of 1 s for this submission ran out" in results[1].message
    data = gradescope_results(results)
    assert (
        data["score"] == 0
        and "time budget of 1 s" in data["output"]
        and "1 check(s) were not run" in data["output"]
    )


def test_exit_in_the_submission_is_a_failed_check(tmp_path):
    results = doubling_checklist().run(write(tmp_path, "import sys\ndef double(x):\n    sys.exit(3)\n"))
    assert "called exit(3)" in results[0].message and not results[0].passed
    results = doubling_checklist().run(write(tmp_path, "import os\ndef double(x):\n    os._exit(0)\n"))
    assert "ended without a result" in results[0].message and not results[0].passed


def test_a_submission_taking_gigabytes_of_memory_fails_its_check(tmp_path):
    source = "import numpy as np\ndef double(x):\n    return 2 * x + np.ones(750_000_000).sum() * 0\n"
    results = doubling_checklist().run(write(tmp_path, source), hidden=False)
    assert not results[0].passed and "MemoryError" in results[0].message


def test_megabytes_of_output_are_cut_and_the_check_still_scores(tmp_path):
    source = "def double(x):\n    print('x' * 3_000_000)\n    return 2 * x\n"
    results = doubling_checklist().run(write(tmp_path, source))
    assert all(r.passed for r in results)
    assert len(results[0].output) < OUTPUT_LIMIT + 100
    assert results[0].output.endswith("more bytes of output cut)")


def test_a_notebook_submission_is_graded_on_its_code_cells(tmp_path):
    cells = [
        {"cell_type": "markdown", "source": ["# my work\n", "double(x) = 2x"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "def double(x):\n", "    return 2 * x\n"]},
        {"cell_type": "code", "source": "!echo hi\nprint(double(2))"},
    ]
    path = tmp_path / "work.ipynb"
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    assert "# %matplotlib inline" in notebook_code(path.read_text(), "work.ipynb")
    assert all(r.passed for r in doubling_checklist().run(path))


def test_forbidden_code_is_caught_when_the_submission_runs_it(tmp_path):
    source = """
        import layers
        def double(x):
            layers.Dense(2, input_size=3)
            return 2 * x
    """
    checks = doubling_checklist()
    results = Checklist(forbidden=("layers",))
    results.checks = checks.checks
    found = results.run(write(tmp_path, source))
    assert not any(r.passed for r in found)
    assert "your code ran Dense.__init__ of layers/dense.py" in found[0].message


def forbidding_checklist():
    checks = doubling_checklist()
    forbidding = Checklist(forbidden=("layers",))
    forbidding.checks = checks.checks
    return forbidding


REUSE = "layers.Dense(2, input_size=3)"
HIDING = {  # (at the top of the file, in the graded function): the reference reused out of sight
    "switched off": ("", f"sys.setprofile(None)\n    {REUSE}"),
    "replaced before the watch starts": ("sys.setprofile = threading.setprofile = lambda hook: None", REUSE),
    "in a thread made unwatched": ("", f"threading.setprofile(None)\n    run_in_thread(lambda: {REUSE})"),
    "in a raw thread": ("", f"done = threading.Event()\n    _thread.start_new_thread(lambda: ({REUSE}, done.set()), ())"
                        "\n    done.wait(5)"),
    "in another process": ("", "subprocess.run([sys.executable, '-c', 'import layers'], check=False)"),
}  # fmt: skip
PRELUDE = """
import _thread
import subprocess
import sys
import threading

import layers

{top}


def run_in_thread(work):
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def double(x):
    {body}
    return 2 * x
"""


@pytest.mark.parametrize("how", list(HIDING))
def test_reuse_hidden_from_the_watch_is_caught(tmp_path, how):
    top, body = HIDING[how]
    found = forbidding_checklist().run(write(tmp_path, PRELUDE.format(top=top, body=body)), hidden=False)
    assert not any(r.passed for r in found)
    reuse, evasion = (
        "your code ran Dense.__init__ of layers/dense.py",
        "this assignment must see that your code",
    )
    # a thread started by threading or raw gets the watch whatever threading's profile says
    expected = evasion if how in ("switched off", "in another process") else reuse
    assert expected in found[0].message


def test_reuse_in_a_watched_thread_is_caught_and_a_thread_of_ones_own_is_allowed(tmp_path):
    source = PRELUDE.format(top="", body=f"run_in_thread(lambda: {REUSE})")
    found = forbidding_checklist().run(write(tmp_path, source), hidden=False)
    assert "your code ran Dense.__init__ of layers/dense.py" in found[0].message
    allowed = PRELUDE.replace("import layers\n", "").format(
        top="", body="run_in_thread(lambda: sum(range(3)))"
    )
    assert all(r.passed for r in forbidding_checklist().run(write(tmp_path, allowed), hidden=False))


def test_draw_is_repeatable_and_cases_survive_json():
    first, second = draw(arrays(shape=(2,)), 5, seed=0), draw(arrays(shape=(2,)), 5, seed=0)
    assert len(first) == 5 and all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    case = Case(
        "call",
        {"name": "f", "args": ["x"], "returns": "y"},
        {"x": first[0].astype(np.float32)},
        {"y": Expect("close", first[0] / 3, 1e-12, what="f(x)"), "ops": Expect("within", allowed=("a",))},
    )
    again = case_from_json(json.loads(json.dumps(case_to_json(case))))
    assert again.inputs["x"].dtype == np.float32 and np.array_equal(again.inputs["x"], case.inputs["x"])
    assert np.array_equal(again.expect["y"].value, first[0] / 3) and again.expect["ops"].allowed == ("a",)


def test_checklist_refuses_bad_points_and_repeated_names():
    checks = Checklist()
    checks.add("a", 1, list)
    with pytest.raises(ValueError, match="points must be a positive number"):
        checks.add("b", 0, list)
    with pytest.raises(ValueError, match="already in the checklist"):
        checks.add("a", 1, list)
    assert [c.name for c in checks.checks] == ["a"]


def test_results_json_has_gradescopes_fields(tmp_path):
    source = "def double(x):\n    print('hello')\n    return 6.0 if x.ndim == 0 else x\n"
    results = doubling_checklist().run(write(tmp_path, source))
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

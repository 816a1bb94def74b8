"""The course assignments: solutions score full marks, stubs zero, and each wrong submission
loses exactly the checks that should catch it; the command line and Gradescope's files."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import assignments
from assignments.handout import solution_lines, strip_solutions
from minigrad.testing.grading import Checklist

NAMES = list(assignments.ASSIGNMENTS)


def failed(name, submission, hidden=True, time_limit=None):
    """The names of the checks ``submission`` fails."""
    results = assignments.checklist(name).run(submission, hidden=hidden, time_limit=time_limit)
    return {r.name for r in results if not r.passed}


def variant(tmp_path, name, old, new):
    """The teacher's solution with one passage changed, as a student might have written it."""
    text = assignments.source(name).read_text()
    assert text.count(old) == 1, f"the passage to change is not in {name}.py once"
    path = tmp_path / f"{name}.py"
    path.write_text(text.replace(old, new))
    return path


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("handout")
    run = subprocess.run(
        [sys.executable, "-m", "assignments", "handout", str(folder)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_scores_full_marks(name):
    results = assignments.checklist(name).run(assignments.source(name))
    assert [r.name for r in results if not r.passed] == []
    assert sum(r.points for r in results) == assignments.checklist(name).max_points() > 0
    assert any(r.hidden for r in results) and any(not r.hidden for r in results)


@pytest.mark.parametrize("name", NAMES)
def test_the_handout_scores_zero_on_every_check_without_crashing(handout, name):
    results = assignments.checklist(name).run(handout / f"{name}.py")
    assert results and all(r.points == 0 for r in results)
    # every check reached the student's code, which is not written yet (rather than crashing)
    assert all("not written yet" in r.message for r in results), [r.message for r in results]


@pytest.mark.parametrize("name", NAMES)
def test_the_handout_holds_no_solution_line(handout, name):
    source = assignments.source(name).read_text()
    student = handout.joinpath(f"{name}.py").read_text()
    solution = solution_lines(source)
    assert len(solution) >= 2
    student_lines = {line.strip() for line in student.splitlines()}
    assert not [line for line in solution if line in student_lines and not line.startswith("#")]
    assert "BEGIN SOLUTION" not in student and "END SOLUTION" not in student
    # what is outside the solution regions is kept as it was
    assert student == strip_solutions(source)
    assert "python -m assignments check" in handout.joinpath("README.md").read_text()


def test_strip_solutions_keeps_indentation_and_refuses_broken_markers():
    text = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    assert strip_solutions(text) == "def f():\n    raise NotImplementedError  # your code here\n"
    for broken, message in [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("### END SOLUTION\n", "with no ### BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "inside the region opened at line 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            strip_solutions(broken)


# --- wrong submissions, each losing exactly what it should ---
def test_ops_a_wrong_tanh_backward_and_an_unreduced_mul_gradient_lose_exactly_their_checks(tmp_path):
    path = variant(tmp_path, "ops", "return g * (1 - self.y * self.y)", "return g * (1 - self.y)")
    old = "return reduce_to_shape(g * self.b, self.a.shape), reduce_to_shape(g * self.a, self.b.shape)"
    path.write_text(path.read_text().replace(old, "return g * self.b, g * self.a"))
    assert failed("ops", path) == {
        "Tanh: backward equals central differences (gradcheck)",
        "Tanh: backward on more cases",
        "Mul: backward equals central differences (gradcheck)",
        "Mul: backward on more cases",
        "every op keeps float32 as float32, in forward and backward",
    }


def test_ops_an_unstable_log_softmax_and_a_recursive_sort_lose_the_hidden_edge_cases(tmp_path):
    path = variant(tmp_path, "ops", "shifted = a - a.max(axis=axis, keepdims=True)", "shifted = a")
    text = path.read_text()
    start = text.index("    ### BEGIN SOLUTION\n    order, visited")
    end = text.index("    ### END SOLUTION\n", start)
    recursive = """    seen, order = set(), []

    def visit(t):
        if id(t) not in seen:
            seen.add(id(t))
            for p in t.grad_fn.parents if t.grad_fn is not None else ():
                visit(p)
            order.append(t)

    visit(root)
    return order
"""
    path.write_text(text[:start] + recursive + text[end:])
    assert failed("ops", path) == {
        "Sigmoid and LogSoftmax stay finite and right for large values",
        "topological_order: a chain of 100,000 ops (no recursion)",
    }


def test_ops_a_student_reusing_minigrads_own_op_loses_it(tmp_path):
    path = variant(
        tmp_path,
        "ops",
        "self.y = np.tanh(a)",
        "from minigrad import ops\n        self.y = ops.Tanh().forward(a)",
    )
    lost = failed("ops", path, hidden=False)
    assert lost == {"Tanh: forward equals numpy's", "Tanh: backward equals central differences (gradcheck)"}


def test_bptt_without_the_recursion_through_w_loses_the_through_time_checks(tmp_path):
    path = variant(tmp_path, "bptt", "delta = V.T @ error[t] + from_later", "delta = V.T @ error[t]")
    assert failed("bptt", path) == {
        "rnn_backward: dU, dW and db (through time)",
        "rnn_backward: dh0",
        "rnn_backward: every gradient on more and longer sequences",
        "rnn_backward: saturated tanh (inputs up to 4)",
    }


def test_bptt_a_naive_softmax_fails_only_for_large_scores(tmp_path):
    path = variant(tmp_path, "bptt", "e = np.exp(o - o.max())", "e = np.exp(o)")
    assert failed("bptt", path) == {"rnn_forward: scores in the thousands give a finite softmax"}


def test_gru_a_swapped_update_gate_loses_the_formula_checks_only(tmp_path):
    path = variant(tmp_path, "gru_cell", "return z * h + (1 - z) * n", "return (1 - z) * h + z * n")
    assert failed("gru_cell", path) == {
        "GRUCell: outputs equal the formula (numpy reference)",
        "GRUCell: the formula on more cases",
        "GRUCell: a batch of one and one unit",
        "GRUCell: float32 in, float32 out",
        "GRUCell: large inputs (saturated gates) stay finite and right",
    }


def test_lstm_a_sigmoid_op_with_a_wrong_backward_loses_gradients_and_primitives(tmp_path):
    path = variant(
        tmp_path,
        "lstm_cell",
        "i = z[:, 0 * u : 1 * u].sigmoid()",
        "i = StudentSigmoid.apply(z[:, 0 * u : 1 * u])",
    )
    path.write_text(
        path.read_text()
        + """

import numpy as np
from minigrad import Function


class StudentSigmoid(Function):
    def forward(self, a):
        self.y = 1 / (1 + np.exp(-a))
        return self.y

    def backward(self, g):
        return g * self.y  # the factor (1 - y) is missing
"""
    )
    assert failed("lstm_cell", path, hidden=False) == {
        "LSTMCell: gradients of every input and weight (gradcheck)",
        "LSTMCell: built from minigrad's primitive ops only",
    }


def test_gru_the_reference_reuse_cheat_loses_every_check(tmp_path):
    cheat = tmp_path / "gru_cell.py"
    cheat.write_text("""
import layers


class GRUCell:
    def __init__(self, kernel, recurrent_kernel, bias):
        self.weights = [kernel, recurrent_kernel, bias]

    def __call__(self, x, h):
        reference = layers.GRUCell(self.weights[1].shape[0], input_size=self.weights[0].shape[0])
        reference.kernel, reference.recurrent_kernel, reference.bias = self.weights
        return reference(x, [h])[0]
""")
    results = assignments.checklist("gru_cell").run(cheat)
    assert all(
        not r.passed and "your code ran GRUCell.__init__ of layers/gru.py" in r.message for r in results
    )


def test_an_endless_loop_and_a_syntax_error_score_zero_and_grading_finishes(tmp_path):
    path = variant(
        tmp_path,
        "gru_cell",
        "u = self.units\n        x_proj",
        "while True:\n            pass\n        x_proj",
    )
    results = assignments.checklist("gru_cell").run(path, hidden=False, time_limit=0.5)
    assert all("did not finish within 0.5 s" in r.message for r in results)
    path = variant(tmp_path, "lstm_cell", "c_new = f * c + i * g", "c_new = f * c + i * g)")
    results = assignments.checklist("lstm_cell").run(path)
    assert all(not r.passed and "syntax error at line" in r.message for r in results)


def test_numpys_error_state_set_by_one_op_leaves_the_other_checks_alone(tmp_path):
    # the student's Tanh makes numpy raise on underflow, for good; the solution's Sigmoid
    # underflows on large negative inputs, which then raises in the same process ...
    path = variant(
        tmp_path, "ops", "self.y = np.tanh(a)", "np.seterr(all='raise')\n        self.y = np.tanh(a)"
    )
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        np.exp(-np.abs(np.array([-1000.0])))
    # ... but each check runs in a process of its own: graded in the order Tanh's checks,
    # then the large-values check, every one still passes
    full = assignments.checklist("ops")
    chosen = Checklist(forbidden=full.forbidden)
    chosen.checks = [c for c in full.checks if c.name.startswith("Tanh: forward equals")
                     or c.name.startswith("Sigmoid and LogSoftmax stay finite")]  # fmt: skip
    assert len(chosen.checks) == 2 and chosen.checks[0].name.startswith("Tanh")
    assert all(r.passed for r in chosen.run(path))


# --- the command line ---
def cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "assignments", *map(str, args)], capture_output=True, text=True, **kwargs
    )


def test_cli_lists_checks_and_grades_with_results_json(tmp_path):
    listing = cli("list")
    assert listing.returncode == 0 and all(name in listing.stdout for name in NAMES)
    right = cli("check", "gru_cell", assignments.source("gru_cell"))
    assert right.returncode == 0 and "score: 8/8 on the public checks" in right.stdout
    stub = tmp_path / "gru_cell.py"
    stub.write_text(strip_solutions(assignments.source("gru_cell").read_text()))
    wrong = cli("check", "gru_cell", stub)
    assert wrong.returncode == 1 and "[FAIL] GRUCell: output shapes" in wrong.stdout
    graded = cli("grade", "gru_cell", stub, "--results", tmp_path / "results.json")
    assert graded.returncode == 0, graded.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["score"] == 0 and len(data["tests"]) == len(assignments.checklist("gru_cell").checks)
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_due_date"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("check", "rnn", "x.py"), 2, "there is no assignment 'rnn'; the assignments are ops, bptt"),
        (("check", "ops", "missing.py"), 2, "there is no file missing.py"),
        (("check", "ops", "missing.py", "--time-limit", "0"), 2, "--time-limit must be a positive number"),
        (("autograder", "nope", "out"), 2, "there is no assignment 'nope'"),
        (("grade", "ops"), 2, "the following arguments are required"),
    ],
)
def test_cli_bad_input_gets_a_clear_message(tmp_path, args, code, message):
    run = cli(*args, cwd=tmp_path)
    assert run.returncode == code and message in run.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_grading_a_missing_file_still_writes_a_zero_grade(tmp_path):
    run = cli("grade", "bptt", tmp_path / "bptt.py", "--results", tmp_path / "results.json")
    assert run.returncode == 0 and "there is no file" in run.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["score"] == 0 and all("there is no file" in t["output"] for t in data["tests"])


def test_the_autograder_folder_grades_a_submission_as_gradescope_would(tmp_path):
    run = cli("autograder", "gru_cell", tmp_path / "ag")
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "ag"
    with zipfile.ZipFile(folder / "autograder.zip") as bundle:
        names = set(bundle.namelist())
        assert {"setup.sh", "run_autograder", "source/minigrad/pyproject.toml"} <= names
        assert "source/minigrad/assignments/checks/gru_cell.py" in names
        assert bundle.getinfo("run_autograder").external_attr >> 16 == 0o755
    assert subprocess.run(["bash", "-n", folder / "setup.sh"]).returncode == 0
    # Gradescope's layout: the student's file (under another name) in submission/
    root = tmp_path / "gradescope"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "my_gru.py").write_text(assignments.source("gru_cell").read_text())
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    graded = subprocess.run(["bash", folder / "run_autograder"], env=env, capture_output=True, text=True)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == assignments.checklist("gru_cell").max_points()

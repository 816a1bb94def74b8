"""The course assignments: solutions pass, stubs score zero, each wrong submission loses the checks
that should catch it; the handout and the package hold no solution; the command line."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import assignments
from assignments.autograder import unpack
from assignments.checks import bptt as bptt_checks
from assignments.handout import solution_lines, strip_solutions
from minigrad.testing import numerical_grad
from tests.grading_support import sandbox_user

NAMES = list(assignments.ASSIGNMENTS)


@pytest.fixture(autouse=True)
def _sandbox(monkeypatch):
    monkeypatch.setenv("MINIGRAD_SANDBOX_USER", sandbox_user())


def failed(name, submission, only=(), hidden=True):
    """The names of the checks (of those named ``only``, or all) that ``submission`` fails."""
    results = assignments.checklist(name).run(submission, hidden=hidden, only=only)
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
def test_the_solution_passes_every_public_check(name):
    results = assignments.checklist(name).run(assignments.source(name), hidden=False)
    assert [r.name for r in results if not r.passed] == []
    assert sum(r.points for r in results) == assignments.checklist(name).max_points(hidden=False) > 0


@pytest.mark.parametrize("name", NAMES)
def test_the_handout_scores_zero_on_the_public_checks_without_crashing(handout, name):
    results = assignments.checklist(name).run(handout / f"{name}.py", hidden=False)
    assert results and all(r.points == 0 for r in results)
    assert all("not written yet" in r.message for r in results), [r.message for r in results]


@pytest.mark.parametrize("name", NAMES)
def test_the_handout_holds_no_solution_no_hidden_check_and_no_reference(handout, name):
    source = assignments.source(name).read_text()
    student = handout.joinpath(f"{name}.py").read_text()
    solution = solution_lines(source)
    assert len(solution) >= 2
    student_lines = {line.strip() for line in student.splitlines()}
    assert not [line for line in solution if line in student_lines and not line.startswith("#")]
    assert "BEGIN SOLUTION" not in student and student == strip_solutions(source)
    stored = json.loads(handout.joinpath(f"{name}.checks.json").read_text())
    checklist = assignments.checklist(name)
    assert [c["name"] for c in stored["checks"]] == [c.name for c in checklist.checks if not c.hidden]
    text = json.dumps(stored)
    assert not [c.name for c in checklist.checks if c.hidden and c.name in text]
    assert "def " not in text and "seed 1" not in text  # no code; only the public seed 0
    readme = handout.joinpath("README.md").read_text()
    assert "python -m minigrad.testing.grading check" in readme


def test_the_public_checks_on_a_students_machine_give_the_teachers_verdicts(handout, tmp_path):
    """The stored cases and expected values, with no reference code, grade as the checklist does."""
    solution = tmp_path / "gru_cell.py"
    solution.write_text(assignments.source("gru_cell").read_text())
    (tmp_path / "gru_cell.checks.json").write_text(handout.joinpath("gru_cell.checks.json").read_text())
    student = [sys.executable, "-m", "minigrad.testing.grading", "check"]
    right = subprocess.run([*student, solution], capture_output=True, text=True, cwd=tmp_path)
    assert right.returncode == 0 and "public checks of gru_cell.py: 8/8" in right.stdout, (
        right.stdout + right.stderr
    )
    stub = subprocess.run([*student, handout / "gru_cell.py"], capture_output=True, text=True, cwd=tmp_path)
    assert stub.returncode == 1 and ": 0/8" in stub.stdout and "line 40 of gru_cell.py" in stub.stdout
    assert "Reproduce it with: python -m minigrad.testing.grading check gru_cell.py --only" in stub.stdout


def test_a_notebook_handout_and_a_notebook_submission(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "assignments", "handout", tmp_path, "--format", "ipynb"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    notebook = json.loads((tmp_path / "gru_cell.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "raise NotImplementedError" in code and "### BEGIN SOLUTION" not in code
    assert any(c["cell_type"] == "markdown" for c in notebook["cells"])
    # the student writes the solution into the notebook's code cell
    stub = strip_solutions(assignments.source("gru_cell").read_text())
    body = (
        assignments.source("gru_cell")
        .read_text()
        .split("### BEGIN SOLUTION\n")[1]
        .split("        ### END")[0]
    )
    for cell in notebook["cells"]:
        text = "".join(cell["source"])
        if "raise NotImplementedError" in text:
            cell["source"] = text.replace(
                "        raise NotImplementedError  # your code here", body.rstrip()
            )
    (tmp_path / "gru_cell.ipynb").write_text(json.dumps(notebook))
    assert "NotImplementedError  # your code here" in stub
    results = assignments.checklist("gru_cell").run(tmp_path / "gru_cell.ipynb", hidden=False)
    assert all(r.passed for r in results), [r.message for r in results]


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


def test_the_bptt_reference_backward_is_the_gradient_of_the_reference_loss():
    """The grader's true gradient, against central differences of the loss written beside it."""
    case = {**bptt_checks.random_case(11, T=4, n_in=2, n_h=3, n_out=3), "y": np.array([0, 2, 1, 2])}
    grads = bptt_checks.reference_backward(**case)
    for name in bptt_checks.PARAMETERS[1:]:
        values = dict(case)
        numeric = numerical_grad(lambda values=values: bptt_checks.reference_loss(**values), values[name])
        np.testing.assert_allclose(grads[f"d{name}"], numeric, atol=1e-7)


# --- wrong submissions, each losing exactly what it should ---
def test_ops_a_wrong_tanh_backward_and_an_unreduced_mul_gradient_lose_exactly_their_checks(tmp_path):
    path = variant(tmp_path, "ops", "return g * (1 - self.y * self.y)", "return g * (1 - self.y)")
    old = "return reduce_to_shape(g * self.b, self.a.shape), reduce_to_shape(g * self.a, self.b.shape)"
    path.write_text(path.read_text().replace(old, "return g * self.b, g * self.a"))
    public = [c.name for c in assignments.checklist("ops").checks if not c.hidden]
    assert failed("ops", path, hidden=False) == {
        "Tanh: backward equals the true gradient",
        "Mul: backward equals the true gradient",
    }
    assert len(public) == 13


def test_ops_an_unstable_log_softmax_loses_the_large_values_check(tmp_path):
    path = variant(tmp_path, "ops", "shifted = a - a.max(axis=axis, keepdims=True)", "shifted = a")
    large = "Sigmoid and LogSoftmax stay finite and right for large values"
    assert failed("ops", path, only=[large, "LogSoftmax: forward equals numpy's"]) == {large}


def test_ops_a_recursive_topological_order_loses_the_deep_chain(tmp_path):
    text = assignments.source("ops").read_text()
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
    path = tmp_path / "ops.py"
    path.write_text(text[:start] + recursive + text[end:])
    deep = "topological_order: a chain of 100,000 ops (no recursion)"
    assert failed("ops", path, only=[deep, "topological_order: a small graph with shared tensors"]) == {deep}


def test_ops_a_student_reusing_minigrads_own_op_loses_it(tmp_path):
    path = variant(
        tmp_path,
        "ops",
        "self.y = np.tanh(a)",
        "from minigrad import ops\n        self.y = ops.Tanh().forward(a)",
    )
    lost = failed("ops", path, only=["Tanh: forward equals numpy's", "Sigmoid: forward equals numpy's"])
    assert lost == {"Tanh: forward equals numpy's"}


def test_bptt_without_the_recursion_through_w_loses_the_through_time_checks(tmp_path):
    path = variant(tmp_path, "bptt", "delta = V.T @ error[t] + from_later", "delta = V.T @ error[t]")
    assert failed("bptt", path, hidden=False) == {
        "rnn_backward: dU, dW and db (through time)",
        "rnn_backward: dh0",
    }


def test_bptt_a_naive_softmax_fails_only_for_large_scores(tmp_path):
    path = variant(tmp_path, "bptt", "e = np.exp(o - o.max())", "e = np.exp(o)")
    large = "rnn_forward: scores in the thousands give a finite softmax"
    assert failed("bptt", path, only=[large, "rnn_forward: h and y_hat equal the reference"]) == {large}


def test_gru_a_swapped_update_gate_loses_the_formula_and_the_true_gradients(tmp_path):
    path = variant(tmp_path, "gru_cell", "return z * h + (1 - z) * n", "return (1 - z) * h + z * n")
    assert failed("gru_cell", path, hidden=False) == {
        "GRUCell: output shapes and values on a fixed case",
        "GRUCell: outputs equal the formula (numpy reference)",
        "GRUCell: gradients equal the true gradients",
        "GRUCell: built from minigrad's primitive ops only",
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
        "LSTMCell: gradients equal the true gradients",
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
    results = assignments.checklist("gru_cell").run(cheat, hidden=False)
    assert all(
        not r.passed and "your code ran GRUCell.__init__ of layers/gru.py" in r.message for r in results
    )


# --- the command line ---
ROOT = Path(assignments.__file__).resolve().parent.parent


def cli(*args, **kwargs):
    """``python -m assignments``, run from anywhere with the clone on the path, as a teacher would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "assignments", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        **kwargs,
    )


def test_cli_lists_checks_and_grades_with_results_json(tmp_path):
    listing = cli("list")
    assert listing.returncode == 0 and all(name in listing.stdout for name in NAMES)
    right = cli("check", "gru_cell", assignments.source("gru_cell"))
    assert right.returncode == 0 and "score: 8/8 on the public checks" in right.stdout
    stub = tmp_path / "gru_cell.py"
    stub.write_text(strip_solutions(assignments.source("gru_cell").read_text()))
    wrong = cli("check", "gru_cell", stub)
    assert (
        wrong.returncode == 1 and "[FAIL] GRUCell: output shapes and values on a fixed case" in wrong.stdout
    )
    broken = tmp_path / "broken.py"  # refused before it runs: the whole grade, quickly
    broken.write_text(stub.read_text().replace("def __call__(self, x, h):", "def __call__(self, x, h)"))
    graded = cli("grade", "gru_cell", broken, "--results", tmp_path / "results.json")
    assert graded.returncode == 0, graded.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["score"] == 0 and len(data["tests"]) == len(assignments.checklist("gru_cell").checks)
    assert all("broken.py has a syntax error at line" in t["output"] for t in data["tests"])
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_due_date"}
    assert not any("assignments." in t["output"] or "grading." in t["output"] for t in data["tests"])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("check", "rnn", "x.py"), 2, "there is no assignment 'rnn'; the assignments are ops, bptt"),
        (("check", "ops", "missing.py"), 2, "there is no file missing.py"),
        (("check", "ops", "missing.py", "--time-limit", "0"), 2, "--time-limit must be a positive number"),
        (("grade", "ops", "x.py", "--results", "r.json", "--budget", "-1"), 2, "--budget must be a positive"),
        (("grade-all", "ops", "nowhere", "--gradebook", "g.csv"), 2, "there is no folder nowhere"),
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


def test_grade_all_writes_feedback_and_a_gradebook_and_resumes(tmp_path):
    folder = tmp_path / "submissions"
    (folder / "bob").mkdir(parents=True)
    (folder / "alice.py").write_text(assignments.source("gru_cell").read_text())
    (folder / "bob" / "gru_cell.py").write_text(strip_solutions(assignments.source("gru_cell").read_text()))
    (folder / "carol").mkdir()  # submitted nothing
    book, out = tmp_path / "grades.csv", tmp_path / "out"
    run = cli("grade-all", "gru_cell", folder, "--gradebook", book, "--out", out, "--jobs", "2")
    assert run.returncode == 0, run.stderr
    assert "3 students, 0 graded before, 3 to grade" in run.stdout and " s\n" in run.stdout
    rows = book.read_text().splitlines()
    names = [c.name for c in assignments.checklist("gru_cell").checks]
    assert rows[0] == ",".join(["id", *(f'"{n}"' if "," in n else n for n in names), "total"])
    assert rows[1].startswith("alice,") and rows[1].endswith(",13")
    assert rows[2].startswith("bob,") and rows[2].endswith(",0") and rows[3].startswith("carol,")
    assert "not written yet" in (out / "bob" / "feedback.txt").read_text()
    (out / "bob" / "results.json").unlink()  # as if grading stopped before bob was done
    again = cli("grade-all", "gru_cell", folder, "--gradebook", book, "--out", out)
    assert "3 students, 2 graded before, 1 to grade" in again.stdout and book.read_text().splitlines() == rows


def test_the_autograder_zip_holds_the_scripts_and_checks_but_no_solution(tmp_path):
    run = cli("autograder", "gru_cell", tmp_path / "ag")
    assert run.returncode == 0, run.stderr
    archive = tmp_path / "ag" / "autograder.zip"
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        assert bundle.getinfo("run_autograder").external_attr >> 16 == 0o755
    assert {"setup.sh", "run_autograder", "pyproject.toml", "assignments/checks/gru_cell.py"} <= names
    assert not {f"assignments/{n}.py" for n in NAMES} & names  # no solution
    source = unpack(archive, tmp_path / "gradescope")
    assert "[grading]" in (source / "setup.sh").read_text()  # hypothesis, which the grader needs
    assert (source / "run_autograder").stat().st_mode & 0o111
    # tests/test_grading_bundle.py installs and runs it (slow)

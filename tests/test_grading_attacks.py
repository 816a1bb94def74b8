"""Submissions that try to earn marks without the work, one per kind of attack: each earns nothing.

Each test names what holds the attack.  They grade the public checks (hidden ones run the
same machinery on more cases), so that the file stays quick.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import assignments
from assignments.handout import strip_solutions
from tests.grading_support import sandbox_user

ROOT = Path(assignments.__file__).resolve().parent.parent
SOLUTION = assignments.source("gru_cell")
STUB = strip_solutions(SOLUTION.read_text())


@pytest.fixture(autouse=True)
def _sandbox(monkeypatch):
    monkeypatch.setenv("MINIGRAD_SANDBOX_USER", sandbox_user())


def grade(tmp_path, source, name="gru_cell", only=(), hidden=False, filename=None):
    path = tmp_path / (filename or f"{name}.py")
    path.write_text(textwrap.dedent(source))
    return assignments.checklist(name).run(path, hidden=hidden, only=only)


def earned(results):
    return sum(r.points for r in results)


def test_a_one_line_import_of_the_solution_earns_nothing(tmp_path):
    # held by: the graded name must be defined in the file (read before it runs), and the
    # solutions are not importable where student code runs (not packaged, not on the path)
    results = grade(tmp_path, "from assignments.gru_cell import GRUCell\n")
    assert earned(results) == 0 and all("GRUCell must be defined in your file" in r.message for r in results)
    rebound = "class GRUCell:\n    pass\n\nfrom assignments.gru_cell import GRUCell  # noqa\n"
    results = grade(tmp_path, rebound)
    assert earned(results) == 0 and "No module named 'assignments'" in results[0].message


def test_exec_of_the_solution_read_from_disk_earns_nothing(tmp_path):
    # held by: the code of the graded class must come from the submitted file
    source = f"""
        class GRUCell:
            pass

        exec(open({str(SOLUTION)!r}).read())
    """
    results = grade(tmp_path, source)
    assert earned(results) == 0
    assert all("GRUCell must be written in your file" in r.message for r in results), results[0].message


def test_code_objects_copied_from_the_solution_earn_nothing(tmp_path):
    # held by: every method's code must have been compiled from the submitted file
    source = f"""
        import importlib.util
        import types

        spec = importlib.util.spec_from_file_location("borrowed", {str(SOLUTION)!r})
        borrowed = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(borrowed)


        class GRUCell:
            def __init__(self, kernel, recurrent_kernel, bias):
                raise NotImplementedError

            def __call__(self, x, h):
                raise NotImplementedError


        GRUCell.__init__ = types.FunctionType(borrowed.GRUCell.__init__.__code__, globals())
        GRUCell.__call__ = types.FunctionType(borrowed.GRUCell.__call__.__code__, globals())
    """
    results = grade(tmp_path, source)
    assert earned(results) == 0 and all("must be written in your file" in r.message for r in results)


def test_a_file_that_rewrites_itself_with_the_solution_earns_nothing(tmp_path):
    # held by: the grader reads the file once and gives every check a fresh copy of those bytes
    original = tmp_path / "gru_cell.py"
    source = STUB + textwrap.dedent(f"""
        import pathlib
        for target in (pathlib.Path(__file__), pathlib.Path({str(original)!r})):
            try:
                target.write_text(pathlib.Path({str(SOLUTION)!r}).read_text())
            except OSError:
                pass
    """)
    results = grade(tmp_path, source)
    assert earned(results) == 0 and all("not written yet" in r.message for r in results)


def test_patching_the_checks_helpers_gradcheck_allclose_and_the_probes_earns_nothing(tmp_path):
    # held by: the verdict is decided in the grader, from the arrays the child sent back
    source = """
        import numpy as np
        import minigrad.testing
        import minigrad.testing.grading.child as child
        import minigrad.testing.grading.probes as probes

        np.allclose = lambda *args, **kwargs: True
        np.array_equal = lambda *args, **kwargs: True
        np.testing.assert_allclose = lambda *args, **kwargs: None
        minigrad.testing.gradcheck = lambda *args, **kwargs: True
        child.describe_error = lambda *args: ""
        probes.PROBES["cell"] = lambda module, params, inputs: ({"h": inputs["h"]}, {"ops": []})


        class GRUCell:
            def __init__(self, kernel, recurrent_kernel, bias):
                pass

            def __call__(self, x, h):
                return h
    """
    results = grade(tmp_path, source)
    assert earned(results) == 0 and "h_new is wrong" in results[0].message


def test_finding_the_grader_and_sending_a_pass_earns_nothing(tmp_path):
    # held by: the child can only write data; a forged reply without the right arrays fails
    source = """
        import json
        import os

        import numpy as np

        passes = {"cases": [{"error": None, "facts": {"ops": []}}] * 50, "forbidden_ran": None, "imported": []}
        with open("reply.json", "w") as reply:
            json.dump(passes, reply)
        np.savez("outputs.npz")
        for fd in range(3, 256):
            try:
                os.write(fd, b"(True, '')")
            except OSError:
                pass
        os._exit(0)


        class GRUCell:
            pass
    """
    results = grade(tmp_path, source)
    assert earned(results) == 0


def test_a_pickled_payload_earns_nothing_and_never_runs_in_the_grader(tmp_path):
    # held by: outputs are read with allow_pickle=False, replies as JSON
    marker = tmp_path / "payload-ran"
    source = f"""
        import json
        import os

        import numpy as np


        class Payload:
            def __reduce__(self):
                return (open, ({str(marker)!r}, "w"))


        with open("reply.json", "w") as reply:
            json.dump({{"cases": [{{"error": None, "facts": {{}}}}] * 50}}, reply)
        np.savez("outputs.npz", **{{"0.h": np.array([Payload()], dtype=object)}})
        os._exit(0)


        class GRUCell:
            pass
    """
    results = grade(tmp_path, source)
    assert earned(results) == 0 and "cannot be read" in results[0].message
    assert not marker.exists()


def test_consistent_but_wrong_functions_earn_nothing(tmp_path):
    # held by: outputs compared with the reference, gradients with the true gradients
    returns_h = """
        class GRUCell:
            def __init__(self, kernel, recurrent_kernel, bias):
                self.kernel = kernel

            def __call__(self, x, h):
                return h * 1.0 + (x @ self.kernel)[:, :1] * 0.0
    """
    assert earned(grade(tmp_path, returns_h)) == 0
    zeros = assignments.source("ops").read_text()
    for body in (
        "return a * b",
        "return a @ b",
        "return self.y",
        "return a.sum(axis=self.axes, keepdims=keepdims)",
    ):
        zeros = zeros.replace(
            body,
            "return np.zeros_like(a * 0.0)"
            if "sum" not in body
            else "return a.sum(axis=self.axes, keepdims=keepdims) * 0",
        )
    zeros = zeros.replace("return g - np.exp(self.y) * g.sum(axis=self.axis, keepdims=True)", "return 0 * g")
    zeros = zeros.replace("return g * (1 - self.y * self.y)", "return 0 * g")
    zeros = zeros.replace("return g * self.y * (1 - self.y)", "return 0 * g")
    ops = [
        c.name for c in assignments.checklist("ops").checks if not c.hidden and "topological" not in c.name
    ]
    assert earned(grade(tmp_path, zeros, "ops", only=ops)) == 0


def test_a_backward_by_finite_differences_earns_no_gradient_point(tmp_path):
    # held by: the true gradient to a tolerance (1e-10 of the scale) central differences cannot meet
    solution = assignments.source("bptt").read_text()
    start = solution.index("    ### BEGIN SOLUTION\n    h, y_hat")
    end = solution.index("    ### END SOLUTION", start)
    numeric = """    names = ("U", "W", "b", "V", "c", "h0")
    values = {"U": U, "W": W, "b": b, "V": V, "c": c, "h0": h0}

    def loss():
        _, y_hat = rnn_forward(x, values["h0"], values["U"], values["W"], values["b"], values["V"], values["c"])
        return -np.log(y_hat[np.arange(len(y)), y]).sum()

    grads = {}
    for name in names:
        array = values[name] = values[name].copy()
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + 1e-6
            up = loss()
            array[index] = saved - 1e-6
            down = loss()
            array[index] = saved
            grad[index] = (up - down) / 2e-6
        grads["d" + name] = grad
    return grads
"""
    results = grade(tmp_path, solution[:start] + numeric + solution[end:], "bptt")
    backward = [r for r in results if r.name.startswith("rnn_backward")]
    assert len(backward) == 3 and earned(backward) == 0
    assert all(r.passed for r in results if r.name.startswith("rnn_forward"))  # the forward is right
    tanh = (
        assignments.source("ops")
        .read_text()
        .replace(
            "return g * (1 - self.y * self.y)",
            "a = np.arctanh(self.y)\n        return g * (np.tanh(a + 1e-6) - np.tanh(a - 1e-6)) / 2e-6",
        )
    )
    assert not grade(tmp_path, tanh, "ops", only=["Tanh: backward equals the true gradient"])[0].passed


def test_another_autograd_is_refused_with_a_clear_message(tmp_path):
    # held by: import statements are refused before the file runs; hidden imports as it runs
    source = (
        assignments.source("bptt")
        .read_text()
        .replace("import numpy as np", "import numpy as np\nimport torch")
    )
    results = grade(tmp_path, source, "bptt")
    assert earned(results) == 0
    assert all(
        "bptt.py imports torch, which is not allowed here: this assignment asks for a backward written by hand"
        in r.message
        for r in results
    )
    hidden = (
        assignments.source("bptt")
        .read_text()
        .replace(
            "    h, y_hat = rnn_forward(x, h0, U, W, b, V, c)\n    T = x.shape[0]",
            "    __import__('to' + 'rch')\n    h, y_hat = rnn_forward(x, h0, U, W, b, V, c)\n    T = x.shape[0]",
        )
    )
    backward = [r for r in grade(tmp_path, hidden, "bptt") if r.name.startswith("rnn_backward")]
    assert earned(backward) == 0 and "importing torch is not allowed here" in backward[0].message


def _processes_with(marker):
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def test_a_grandchild_that_outlives_its_check_cannot_rewrite_the_results(tmp_path):
    # held by: the grader is a child subreaper and ends every orphan of a check before it
    # writes the results; as root, the child's user cannot write them either
    results = tmp_path / "results.json"
    source = STUB + textwrap.dedent(f"""
        import os
        import time

        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(2)
                with open({str(results)!r}, "w") as forged:
                    forged.write('{{"score": 999, "tests": []}}')
                os._exit(0)
            os._exit(0)
    """)
    path = tmp_path / "gru_cell.py"
    path.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "assignments", "grade", "gru_cell", path, "--results", results]
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    time.sleep(3)  # longer than the grandchild would have waited
    assert json.loads(results.read_text())["score"] == 0


def test_sleeping_children_holding_the_output_pipe_do_not_hang_the_grader(tmp_path):
    # held by: output is read with a deadline; each check's group and orphans are ended
    source = STUB + textwrap.dedent("""
        import subprocess
        for _ in range(15):
            subprocess.Popen(["sleep", "987.125"], start_new_session=True)
    """)
    results = grade(tmp_path, source)
    assert earned(results) == 0 and all("not written yet" in r.message for r in results)
    assert _processes_with(b"987.125") == []


def test_a_standard_module_name_left_in_the_working_folder_reaches_no_one(tmp_path):
    # held by: each check runs in a fresh folder, deleted after it, with python -I (neither the
    # folder nor the script's is on the import path)
    planted = STUB + textwrap.dedent("""
        import os
        for name in ("argparse.py", "numpy.py", "json.py"):
            with open(name, "w") as module:
                module.write("import os\\nos._exit(0)\\n")
        print("planted in", os.getcwd())
    """)
    first = grade(tmp_path, planted)
    folder = first[0].output.split("planted in ")[1].split()[0]
    assert not Path(folder).exists()
    again = grade(tmp_path, STUB, filename="gru_cell.py")
    assert earned(again) == 0 and all("not written yet" in r.message for r in again)

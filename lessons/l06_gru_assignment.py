"""Running a course: the GRU cell assignment, handed out, checked and graded.

For teachers: what `python -m assignments` does with a student's file, shown on the
gru_cell assignment (its source, with the worked solution, is assignments/gru_cell.py).
"""

# %% [markdown]
# # The assignment and its handout
#
# A course assignment in minigrad is a Python file written as the teacher's source: the
# prose, the signatures, and the worked solution between `### BEGIN SOLUTION` and
# `### END SOLUTION`.  The handout replaces each solution region with
# `raise NotImplementedError`, so the student receives a file that imports and runs, and
# every check fails on it with "not written yet" rather than crashing the grader.
#
# The gru_cell assignment asks for `GRUCell(kernel, recurrent_kernel, bias)` with
# `cell(x, h) -> h_new`, in Keras's layout with reset_after=True.  This lesson never shows
# the solution: it shows what the grader says about files.

# %%
import tempfile
from pathlib import Path

import assignments
from assignments.handout import solution_lines, strip_solutions
from lessons.report import check, show, title
from minigrad.testing.grading import Sandbox

source = assignments.source("gru_cell").read_text()
handout = strip_solutions(source)
folder = Path(tempfile.mkdtemp())
(folder / "gru_cell.py").write_text(handout)

title("the handout")
stub = [line for line in handout.splitlines() if "NotImplementedError" in line]
print("\n".join(stub))
show("solution lines in the source", len(solution_lines(source)))
check("the handout keeps none of the solution's lines",
      not set(solution_lines(source)) & {line.strip() for line in handout.splitlines()})  # fmt: skip

# %% [markdown]
# # The checks
#
# Each check is scored on its own.  The grader draws the check's cases (hypothesis, with a
# seed) and computes what the reference gives on them; a fresh child process, with a time
# limit, loads the student's file, runs it on the inputs and sends back plain arrays; the
# grader compares them.  The verdict is decided in a process that never ran the student's
# code.  The public checks use a fixed seed and few examples, and the handout stores their
# inputs and expected values, so a student's own check gives the same verdicts every time;
# the hidden ones, run only by `grade`, use other seeds, more examples and edge cases.

# %%
checklist = assignments.checklist("gru_cell")
for c in checklist.checks:
    print(f"  {c.points:g} point(s)  {'hidden' if c.hidden else 'public'}  {c.name}")
show("points in all", checklist.max_points())


def grade(path: Path) -> dict[str, bool]:
    """Run every check on the file; return each check's verdict.

    These files are the lesson's own, so they run as the reader's user; a grader run as root
    (as on Gradescope) runs student code as an unprivileged user instead.
    """
    results = checklist.run(path, sandbox=Sandbox(user=None))
    for r in results:
        print(
            f"  [{'pass' if r.passed else 'FAIL'}] {r.name}"
            + ("" if r.passed else f": {r.message.splitlines()[0]}")
        )
    print(f"  score {sum(r.points for r in results):g}/{checklist.max_points():g}")
    return {r.name: r.passed for r in results}


# %% [markdown]
# # Three submissions
#
# The handout as it is scores zero; the teacher's source scores full marks.

# %%
title("the handout, unchanged")
verdicts = {"handout": grade(folder / "gru_cell.py")}
check("the untouched handout passes no check", not any(verdicts["handout"].values()))

title("the teacher's source")
verdicts["solution"] = grade(assignments.source("gru_cell"))
check("the worked solution passes every check", all(verdicts["solution"].values()))

# %% [markdown]
# **A wrong formula.**  A student swaps the roles of z and 1 - z in the last line.  Every op
# is still a minigrad primitive, so the gradients are exactly those of the function the
# student wrote: a gradient check against the student's own forward (gradcheck) would pass,
# since it proves that backward matches forward, not that forward is a GRU.  The grader
# compares the outputs with the numpy reference and the gradients with the reference's true
# gradients at the same inputs, so the swap loses both.

# %%
title("the update gate swapped")
swapped = folder / "swapped.py"
swapped.write_text(source.replace("return z * h + (1 - z) * n", "return (1 - z) * h + z * n"))
verdicts["swapped"] = grade(swapped)
lost = {name for name, passed in verdicts["swapped"].items() if not passed}
check("the swap loses the formula checks", "GRUCell: outputs equal the formula (numpy reference)" in lost)
check("and the gradient checks, compared with the true gradients",
      "GRUCell: gradients equal the true gradients" in lost)  # fmt: skip

# %% [markdown]
# **Reusing the reference.**  A student builds `layers.GRUCell` inside their class and
# plugs in the weights.  Its numbers are right and its graph holds only primitive ops, so
# neither proof can see it; but the grader watches which code runs while the student's
# code is on the call stack, and the assignment forbids `layers`.

# %%
title("the reference cell reused")
cheat = folder / "cheat.py"
cheat.write_text("""
import layers


class GRUCell:
    def __init__(self, kernel, recurrent_kernel, bias):
        self.weights = [kernel, recurrent_kernel, bias]

    def __call__(self, x, h):
        inner = layers.GRUCell(self.weights[1].shape[0], input_size=self.weights[0].shape[0])
        inner.kernel, inner.recurrent_kernel, inner.bias = self.weights
        return inner(x, [h])[0]
""")
verdicts["cheat"] = grade(cheat)
check("reusing the reference passes no check", not any(verdicts["cheat"].values()))

# %%
# What the project's tests check of this lesson, in one place (saved by `python -m lessons`).
RESULTS = {"checks": [c.name for c in checklist.checks], "verdicts": verdicts, "handout": handout}

# %% [markdown]
# # Summary
#
# - A teacher's source holds the solution between markers; `python -m assignments handout`
#   writes the students' copies, `check` runs the public checks, `grade` writes Gradescope's
#   `results.json`, and `autograder` builds the folder Gradescope runs.
# - The comparison with a numpy reference catches wrong formulas, the comparison with the true
#   gradients wrong backwards (and right-looking ones of a wrong forward); the code-reuse
#   guard and the primitives-only graph walk catch borrowed answers.  Each is a check with
#   its own points, decided in the grader from plain data the student's process sent back.
#
# # Exercises
#
# 1. Write a check of your own for the gru_cell assignment with `Checklist.add`: a function
#    that returns `Case`s (inputs, and an `Expect` per output), e.g. the cell on a batch of
#    ten, and see it pass on the solution.
# 2. Make a submission that passes the public checks but fails a hidden one (hint: the
#    hidden checks try float32 inputs).
# 3. Run `python -m assignments check lstm_cell FILE` on the lstm_cell handout, then write the
#    cell until it passes.

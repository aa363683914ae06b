"""minik8s grade: notebooks run in fresh kernels; passing, failing, raising, hanging, stale and unreadable
notebooks each become a row; the table, the CSV and the command line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from minik8s import cli
from minik8s.lab import grade as grader
from minik8s.lab.checks import RESULT_MIME
from minik8s.lab.exercises.sample import NGINX_POD

SETUP = ["%load_ext minik8s", "from minik8s.lab.checks import check", f"%%kubectl apply -f -\n{NGINX_POD}"]


def _write(path, *sources):
    cells = [new_markdown_cell("# Lab")] + [new_code_cell(s) for s in sources]
    nbformat.write(new_notebook(cells=cells), path)
    return path


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    d = tmp_path_factory.mktemp("submissions")
    good = _write(d / "alice.ipynb", *SETUP, "%kubectl label pod nginx tier=frontend",
                  'check("sample-labels")', 'check("sample-namespace")')
    raises = _write(d / "bob.ipynb", *SETUP, "1/0", 'check("sample-labels")', 'check("sample-namespace")')
    hangs = _write(d / "carol.ipynb", *SETUP, "%kubectl label pod nginx tier=frontend", 'check("sample-labels")',
                   "while True:\n    pass", 'check("sample-namespace")')
    stale = new_notebook(cells=[new_code_cell(s) for s in [*SETUP, 'check("sample-labels")']])
    stale.cells[-1].outputs = [new_output("display_data", data={
        "text/plain": "✅ sample-labels: passed",
        RESULT_MIME: {"exercise": "sample-labels", "passed": True, "message": "passed"}})]
    nbformat.write(stale, d / "dave.ipynb")
    (d / "erin.ipynb").write_text("this is not a notebook")
    paths = [good, raises, hangs, d / "dave.ipynb", d / "erin.ipynb", d / "frank.ipynb"]
    progress = io.StringIO()
    rows = grader.grade(paths, timeout=10, progress=progress)
    return {row.notebook: row for row in rows}, progress.getvalue(), rows


def test_a_solved_notebook_passes_what_it_solved(submissions):
    row = submissions[0]["alice.ipynb"]
    assert row.results == {"sample-labels": True, "sample-namespace": False}
    assert row.messages["sample-namespace"].startswith("there is no namespace team-a")
    assert row.error == ""


def test_a_notebook_that_raises_is_noted_and_carries_on(submissions):
    row = submissions[0]["bob.ipynb"]
    assert row.error == "cell 5 raised ZeroDivisionError: division by zero"
    assert row.results == {"sample-labels": False, "sample-namespace": False}


def test_a_notebook_that_never_finishes_times_out_and_keeps_earlier_checks(submissions):
    row = submissions[0]["carol.ipynb"]
    assert row.error == "timed out after 10s (in cell 7)"
    assert row.results == {"sample-labels": True}
    assert row.expected == ["sample-labels", "sample-namespace"]


def test_stale_outputs_in_a_submission_do_not_count(submissions):
    assert submissions[0]["dave.ipynb"].results == {"sample-labels": False}


def test_unreadable_and_missing_notebooks_are_rows(submissions):
    assert submissions[0]["erin.ipynb"].error.startswith("cannot read notebook:")
    assert submissions[0]["frank.ipynb"].error.startswith("cannot read notebook:")


def test_progress_goes_line_by_line(submissions):
    lines = submissions[1].splitlines()
    assert lines[0] == "[1/6] grading alice.ipynb ..."
    assert lines[1].startswith("[1/6] alice.ipynb: 1/2 passed (")
    assert "[6/6] grading frank.ipynb ..." in lines


def test_markdown_table(submissions):
    table = grader.markdown_table(submissions[2]).splitlines()
    assert table[0] == "| notebook | sample-labels | sample-namespace | passed | notes |"
    assert table[1] == "|---|---|---|---|---|"
    assert table[2] == "| alice.ipynb | ✅ | ❌ | 1/2 |  |"
    assert table[3] == "| bob.ipynb | ❌ | ❌ | 0/2 | cell 5 raised ZeroDivisionError: division by zero |"
    assert table[4] == "| carol.ipynb | ✅ | — | 1/2 | timed out after 10s (in cell 7) |"
    assert table[5] == "| dave.ipynb | ❌ | — | 0/2 |  |"
    assert table[6].startswith("| erin.ipynb | — | — | 0/2 | cannot read notebook:")


def test_markdown_cells_escape_pipes():
    row = grader.Row(notebook="x|y.ipynb", error="line one\nvalue | other")
    assert grader.markdown_table([row]).splitlines()[2] == "| x\\|y.ipynb | 0/0 | line one value \\| other |"


def test_csv(submissions, tmp_path):
    out = tmp_path / "grades.csv"
    grader.write_csv(submissions[2], out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["notebook", "sample-labels", "sample-namespace", "passed", "total", "error"]
    assert rows[1] == ["alice.ipynb", "pass", "fail", "1", "2", ""]
    assert rows[3] == ["carol.ipynb", "pass", "", "1", "2", "timed out after 10s (in cell 7)"]


def test_command_line(tmp_path, capsys):
    nb = _write(tmp_path / "zoe.ipynb", *SETUP, "%kubectl label pod nginx tier=frontend", 'check("sample-labels")')
    code = cli.main(["grade", str(nb), "--timeout", "60", "--csv", str(tmp_path / "g.csv"),
                     "--markdown", str(tmp_path / "g.md")])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ("| notebook | sample-labels | passed | notes |\n|---|---|---|---|\n"
                            "| zoe.ipynb | ✅ | 1/1 |  |\n")
    assert "[1/1] grading zoe.ipynb ..." in captured.err
    assert (tmp_path / "g.md").read_text(encoding="utf-8") == captured.out
    assert (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()[1] == "zoe.ipynb,pass,1,1,"


def test_command_line_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        grader.main([])
    assert exit_info.value.code == 2
    assert grader.main(["x.ipynb", "--timeout", "0"]) == 2
    assert "--timeout must be positive" in capsys.readouterr().err


def test_grading_the_sample_lab_and_its_solution():
    labs = Path(__file__).resolve().parent.parent / "labs"
    rows = grader.grade([labs / "00-sample.ipynb", labs / "solutions" / "00-sample.ipynb"], timeout=60,
                        progress=io.StringIO())
    # two files with one name: the table shows their paths
    assert [r.notebook for r in rows] == [str(labs / "00-sample.ipynb"), str(labs / "solutions" / "00-sample.ipynb")]
    assert rows[0].results == {"sample-labels": False, "sample-namespace": False} and rows[0].error == ""
    assert rows[1].results == {"sample-labels": True, "sample-namespace": True} and rows[1].error == ""


def test_a_cluster_that_cannot_start_is_the_rows_note(tmp_path):
    nb = _write(tmp_path / "x.ipynb", "import minik8s.cluster\nminik8s.cluster.Cluster = None  # breaks start-up",
                "%load_ext minik8s", 'from minik8s.lab.checks import check\ncheck("sample-labels")')
    row = grader.grade_notebook(nb, timeout=30)
    assert row.error == "cell 3: minik8s: could not start the cluster: TypeError: 'NoneType' object is not callable"
    assert row.results == {"sample-labels": False}

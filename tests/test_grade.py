"""minik8s grade: notebooks run in fresh kernels; passing, failing, raising, hanging, stale and unreadable
notebooks each become a row; the table, the CSV and the command line."""

from __future__ import annotations

import csv
import json
import io
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from minik8s import cli
from minik8s.kubelet.runtimes.process import supervisor
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
    assert grader.main([]) == 2   # no notebooks, and no --namespaces-from either
    assert "give notebooks, or --namespaces-from with --lab" in capsys.readouterr().err
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


# --- nothing a graded notebook started outlives its grading ------------------------------------

# Starts a process outside the kernel's process group (as the process runtime starts containers:
# in a session of its own), then records every process below the kernel, for the test to look at.
_LEAK = ("import json, os, subprocess, sys\n"
         "from minik8s.lab.grade import descendants\n"
         "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
         "json.dump(descendants(os.getpid()), open({out!r}, 'w'))")

_ENDINGS = {
    "finishes": "print('done')",
    "raises": "1/0",
    "hangs": "import time; time.sleep(10**6)",
    "kills its kernel": "import os; os._exit(1)",
    "ignores interrupts": "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)",
}


def _alive(pid: int, started: int) -> bool:
    return supervisor.process_table().get(pid, (0, None))[1] == started  # zombies count as gone


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the sweep reads /proc (Linux)")
@pytest.mark.parametrize("ending", list(_ENDINGS))
def test_no_process_a_notebook_started_is_left_running(tmp_path, monkeypatch, ending):
    monkeypatch.setattr(grader, "CLEANUP_SECONDS", 3)  # a kernel that ignores interrupts is killed sooner
    record = tmp_path / "pids.json"
    nb = _write(tmp_path / "leaky.ipynb", _LEAK.format(out=str(record)), _ENDINGS[ending], "print('after')")
    row = grader.grade_notebook(nb, timeout=8)
    started = {int(pid): ticks for pid, ticks in json.loads(record.read_text()).items()}
    assert started, "the notebook's child process was not seen"
    assert [pid for pid, ticks in started.items() if _alive(pid, ticks)] == []
    expected = {"finishes": "", "raises": "cell 3 raised ZeroDivisionError: division by zero",
                "hangs": "timed out after 8s (in cell 3)", "kills its kernel": "the kernel died in cell 3",
                "ignores interrupts": "timed out after 8s (in cell 3)"}[ending]
    assert row.error == expected


def test_the_labs_cluster_is_stopped_in_the_kernel_when_a_notebook_ends_or_times_out(tmp_path):
    # Stopping the cluster (not only killing processes) is what removes a Docker runtime's containers.
    for name, last in [("ends", "print('done')"), ("hangs", "import time; time.sleep(10**6)")]:
        flag = tmp_path / f"{name}.stopped"
        spy = ("import minik8s.lab.magics as magics\n_stop = magics.stop\n"
               f"def stop(**kw):\n    open({str(flag)!r}, 'w').close()\n    return _stop(**kw)\n"
               "magics.stop = stop")
        nb = _write(tmp_path / f"{name}.ipynb", "%load_ext minik8s", spy, last)
        grader.grade_notebook(nb, timeout=8)
        assert flag.exists(), f"the cluster of the notebook that {name} was not stopped"


def test_leftovers_are_killed_only_if_still_the_same_process():
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        import os
        known = grader.descendants(os.getpid())
        assert child.pid in known
        # the same pid with another start time is another process (a reused number): left alone
        assert grader.kill_leftovers({child.pid: known[child.pid] + 1}) == []
        assert child.poll() is None
        assert grader.kill_leftovers({child.pid: known[child.pid]}) == [child.pid]
        assert child.wait(timeout=10) == -9
    finally:
        child.kill()
        child.wait()


def test_a_multi_line_error_is_one_progress_line(monkeypatch):
    monkeypatch.setattr(grader, "grade_notebook", lambda path, timeout: grader.Row(notebook="x.ipynb",
                                                                                   error="boom\nsecond line"))
    progress = io.StringIO()
    grader.grade(["x.ipynb"], progress=progress)
    assert progress.getvalue().splitlines()[1] == "[1/1] x.ipynb: 0/0 passed; boom second line (0.0s)"

"""``minik8s grade``: run students' lab notebooks and tabulate their exercise checks.

A teacher collects notebooks (``alice.ipynb``, ``bob.ipynb`` ...) and runs::

    minik8s grade submissions/*.ipynb --timeout 120 --csv grades.csv --markdown grades.md

Each notebook runs from the top in a fresh kernel, so every student gets a fresh
in-process cluster (``MINIK8S_KUBECONFIG`` is removed from the kernel's
environment: grading never touches a shared real cluster). Old outputs are
cleared first, then every ``check(...)`` the notebook runs leaves its result in
its output under :data:`minik8s.lab.checks.RESULT_MIME`; the grader reads those
back. The last result of an exercise counts (a student may re-check after a fix).

Robustness, because one bad notebook must not cost the others their grades:

* a cell that raises is noted and execution goes on (later exercises can pass);
* the whole notebook has ``--timeout`` seconds; a notebook that never finishes is
  interrupted, noted "timed out", and keeps the checks it passed before;
* a notebook that cannot be read, or a kernel that dies, becomes a row with the
  error. The grader itself never raises for a student's notebook;
* nothing a notebook started outlives its grading: when the notebook ends (or is
  interrupted at its timeout) the grader stops the lab's cluster in the kernel and
  shuts the kernel down; then it kills whatever is left of the processes the kernel
  started (the ``process`` runtime's containers run in sessions of their own, out of
  reach of the kernel's process group), even when the kernel died or hung.

Columns are every exercise a notebook checks (``check("x")`` in its source or a
result in its outputs); cells are ✅ passed, ❌ failed, — never checked.
Progress goes to stderr: ``[2/30] grading alice.ipynb ...``.

On a shared cluster (``minik8s classroom``), the teacher grades live namespaces instead::

    minik8s grade --kubeconfig kubeconfigs/grader.kubeconfig --namespaces-from students.txt --lab 16

runs the checks lab 16 calls against each student's namespace (standing in for the
lab's ``default``) with the real kubectl, and prints the same table, a row a student.

Interface:
    grade_notebook(path, timeout=120.0) -> Row
    lab_exercises(lab) -> list[str]; grade_namespaces(kubeconfig, namespaces, names) -> list[Row]
    grade(paths, timeout=120.0, progress=None) -> list[Row]   # progress: stderr by default
    markdown_table(rows) -> str; write_csv(rows, path)
    main(argv) -> int

Taught in the labs' introduction (for teachers: docs, "Grading labs").
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from minik8s.kubelet.runtimes.process.supervisor import process_table
from minik8s.lab.checks import RESULT_MIME, evaluate
from minik8s.lab.session import ClusterView, RealCluster

# A cell gets at least this long even when the notebook's budget is nearly spent (kernel round trips).
MIN_CELL_SECONDS = 1.0
# Time for the kernel to start, on top of the notebook's budget.
STARTUP_SECONDS = 60
# After the notebook: time to stop its cluster in the kernel (its containers, Docker's included).
CLEANUP_SECONDS = 15
# How long kill_leftovers waits for killed processes to be gone.
KILL_WAIT_SECONDS = 5.0

# Run in the kernel when the notebook is done or interrupted: stop the cluster %load_ext minik8s started.
_CLEANUP_CODE = (
    "import sys as _minik8s_sys\n"
    "if 'minik8s.lab.magics' in _minik8s_sys.modules:\n"
    "    _minik8s_sys.modules['minik8s.lab.magics'].stop(quiet=True)\n"
)

PASSED, FAILED, MISSING = "✅", "❌", "—"

_CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")


@dataclass
class Row:
    """One notebook's grade: exercise → passed?, and what went wrong while running it."""

    notebook: str
    results: dict[str, bool] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    expected: list[str] = field(default_factory=list)  # exercises its source checks, in order
    error: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(self.results.values())


def _checked_in_source(nb: Any) -> list[str]:
    names: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for name in _CHECK_CALL.findall(cell.source):
                if name not in names:
                    names.append(name)
    return names


def _collect(nb: Any, row: Row) -> None:
    """Read check results back from the executed notebook's outputs (in order: the last one wins)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            result = output.get("data", {}).get(RESULT_MIME) if output.get("output_type") in (
                "display_data", "execute_result") else None
            if isinstance(result, dict) and isinstance(result.get("exercise"), str):
                row.results[result["exercise"]] = bool(result.get("passed"))
                row.messages[result["exercise"]] = str(result.get("message", ""))


def _first_error(cell: Any, index: int) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"cell {index + 1} raised {output.get('ename', 'an error')}: {output.get('evalue', '')}".strip()
        text = output.get("text", "") if output.get("name") == "stderr" else ""
        if text.startswith("minik8s: could not start"):  # the magics print, not raise: catch it here
            return f"cell {index + 1}: {text.strip()}"
    return ""


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MINIK8S_KUBECONFIG", None)  # every student gets their own in-process cluster
    return env


def descendants(root: int) -> dict[int, int]:
    """Every live process below ``root`` (children, grandchildren ...): pid → start time."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, int] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found[pid] = table[pid][1]
            todo.extend(children.get(pid, []))
    return found


def kill_leftovers(known: dict[int, int]) -> list[int]:
    """SIGKILL the processes of ``known`` (pid → start time) that still run; return their pids.

    A pid whose start time changed is another process that reused the number: left alone.
    A process that leads its own process group (a container's main process) takes its group along.
    """
    import signal

    table = process_table()
    killed = []
    for pid, started in known.items():
        if table.get(pid, (0, None))[1] != started:
            continue
        try:
            group = os.getpgid(pid)
            if group == pid and group != os.getpgrp():
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            pass  # gone in the meantime
    # SIGKILL is delivered asynchronously: wait (briefly) until the processes are really gone, so that
    # "graded" means "nothing left running", even on a loaded machine.
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while killed and time.monotonic() < deadline:
        table = process_table()
        if all(table.get(pid, (0, None))[1] != known[pid] for pid in killed):
            break
        time.sleep(0.02)
    return killed


# The reply nbclient makes up for a cell that ran out of time (after interrupting the kernel).
_TIMED_OUT = "minik8s-grade-timeout"


class _Runner:
    """One notebook's kernel, driven by nbclient, with timeouts that interrupt instead of raising.

    On a timeout nbclient interrupts the kernel (a KeyboardInterrupt in the student's cell), makes
    up an error reply and drains the cell's output as it does for any cell: its asyncio tasks end
    cleanly, so the same client can still run the clean-up cell afterwards.
    """

    def __init__(self, nb: Any, path: Path) -> None:
        from nbclient import NotebookClient

        # "immediate" shutdown unless the wind-down finds the kernel responsive: a kernel stuck in a
        # student's loop is killed, not politely waited for.
        self.client = NotebookClient(
            nb, timeout=60, allow_errors=True, interrupt_on_timeout=True,
            error_on_timeout={"ename": _TIMED_OUT, "evalue": "", "traceback": []},
            startup_timeout=STARTUP_SECONDS, kernel_name="python3", shutdown_kernel="immediate",
            on_cell_error=self._on_error, resources={"metadata": {"path": str(path.parent)}})
        self.timed_out = False
        self.known: dict[int, int] = {}  # every process seen below the kernel: swept when the kernel is gone

    def _on_error(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        if execute_reply.get("content", {}).get("ename") == _TIMED_OUT:
            self.timed_out = True

    def run(self, cell: Any, index: int, timeout: float, store_history: bool = True) -> bool:
        """Execute one cell within ``timeout`` seconds; False if it was cut off. DeadKernelError passes."""
        self.timed_out = False
        self.client.timeout = math.ceil(max(MIN_CELL_SECONDS, timeout))
        try:
            self.client.execute_cell(cell, index, store_history=store_history)
        finally:
            self.note_processes()
        return not self.timed_out

    def note_processes(self) -> None:
        """Remember the processes below the kernel (a kernel that dies takes its tree's map with it)."""
        pid = getattr(getattr(self.client.km, "provisioner", None), "pid", None)
        if isinstance(pid, int):
            self.known.update(descendants(pid))

    def wind_down(self) -> None:
        """Stop the notebook's cluster in the kernel and choose how the kernel is shut down."""
        import nbformat
        from nbclient.exceptions import DeadKernelError
        from nbclient.util import ensure_async, run_sync

        client = self.client
        clean = False
        try:
            if run_sync(ensure_async)(client.km.is_alive()):
                # nbclient stores the cell it ran at its index: a cell of its own, taken out again afterwards.
                client.nb.cells.append(nbformat.v4.new_code_cell(_CLEANUP_CODE))
                try:
                    clean = self.run(client.nb.cells[-1], len(client.nb.cells) - 1, CLEANUP_SECONDS,
                                     store_history=False)
                finally:
                    client.nb.cells.pop()
        except (DeadKernelError, RuntimeError, OSError):
            pass  # a dead kernel: the sweep after its shutdown ends its processes
        self.note_processes()
        # A kernel that answers exits on a shutdown request (its atexit handlers run); one that
        # ignores interrupts is killed.
        client.shutdown_kernel = "graceful" if clean else "immediate"


def _execute(nb: Any, path: Path, timeout: float, row: Row) -> None:
    """Run the notebook cell by cell in a fresh kernel within ``timeout`` seconds; note errors in the row.

    Afterwards the kernel and every process it started are gone, whatever the notebook did.
    """
    from nbclient.exceptions import DeadKernelError

    runner = _Runner(nb, path)
    try:
        # The kernel's own stderr (start-up warnings) would garble the progress lines; its errors reach the row.
        with runner.client.setup_kernel(env=_kernel_env(), cwd=str(path.parent), stderr=subprocess.DEVNULL):
            try:
                deadline = time.monotonic() + timeout  # the kernel's start-up is not the student's time
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        row.error = row.error or f"timed out after {timeout:g}s (before cell {index + 1})"
                        return
                    try:
                        finished = runner.run(cell, index, left)
                    except DeadKernelError:
                        row.error = f"the kernel died in cell {index + 1}"
                        return
                    if not finished:
                        row.error = f"timed out after {timeout:g}s (in cell {index + 1})"
                        return
                    row.error = row.error or _first_error(cell, index)
            finally:
                runner.wind_down()
    finally:
        kill_leftovers(runner.known)


def grade_notebook(path: str | Path, timeout: float = 120.0) -> Row:
    """Execute one notebook and return its row. Never raises for anything the notebook does."""
    import nbformat

    path = Path(path)
    row = Row(notebook=path.name)
    started = time.monotonic()
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:  # missing, unreadable, or not a notebook (JSON/validation errors)
        row.error = f"cannot read notebook: {exc}"
        return row
    row.expected = _checked_in_source(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # old results in the submitted file must not count
            cell.execution_count = None
    try:
        _execute(nb, path, timeout, row)
    except Exception as exc:  # noqa: BLE001 - a kernel that will not start, a lost connection: a row, not a crash
        row.error = row.error or f"could not run: {type(exc).__name__}: {exc}"
    _collect(nb, row)
    row.seconds = time.monotonic() - started
    return row


def grade(paths: list[str | Path], timeout: float = 120.0, progress: TextIO | None = None) -> list[Row]:
    """Grade notebooks one after the other, reporting progress (to stderr unless ``progress`` is given)."""
    progress = progress or sys.stderr
    rows = []
    for number, path in enumerate(paths, 1):
        progress.write(f"[{number}/{len(paths)}] grading {Path(path).name} ...\n")
        progress.flush()
        row = grade_notebook(path, timeout)
        summary = f"{row.passed}/{len(exercises([row]))} passed" + (f"; {row.error}".replace("\n", " ") if row.error else "")
        progress.write(f"[{number}/{len(paths)}] {row.notebook}: {summary} ({row.seconds:.1f}s)\n")
        progress.flush()
        rows.append(row)
    names = [row.notebook for row in rows]
    for row, path in zip(rows, paths):
        if names.count(row.notebook) > 1:  # alice/lab.ipynb and bob/lab.ipynb: show the paths
            row.notebook = str(path)
    return rows


# --- grading on a shared cluster (minik8s classroom) ------------------------------------------

LABS_DIR = Path(__file__).resolve().parents[2] / "labs"


def lab_exercises(lab: str) -> list[str]:
    """The exercises a lab checks, in order: ``lab`` is a notebook path or a lab number (``16``)."""
    import nbformat

    path = Path(lab)
    if not path.suffix == ".ipynb":
        found = sorted(LABS_DIR.glob(f"{int(lab):02d}-*.ipynb")) if lab.isdigit() else []
        if not found:
            raise ValueError(f"no lab {lab} under {LABS_DIR} (give the lab's notebook instead)")
        path = found[0]
    names = _checked_in_source(nbformat.read(path, as_version=4))
    if not names:
        raise ValueError(f"{path} checks no exercise")
    return names


def grade_namespace(view: ClusterView, names: list[str]) -> Row:
    """Run the checks ``names`` against one namespace of a live cluster: a row named after the namespace."""
    row = Row(notebook=view.namespace, expected=list(names))
    started = time.monotonic()
    for name in names:
        passed, message = evaluate(name, view)
        row.results[name] = passed
        row.messages[name] = message
    row.seconds = time.monotonic() - started
    return row


def grade_namespaces(kubeconfig: str, namespaces: list[str], names: list[str], kubectl: str = "kubectl",
                     progress: TextIO | None = None) -> list[Row]:
    """Grade every student's namespace of a shared cluster, with the real kubectl and ``kubeconfig``
    (the grader's: it may read every namespace). A check that cannot read says so in its cell."""
    progress = progress or sys.stderr
    rows = []
    for number, namespace in enumerate(namespaces, 1):
        row = grade_namespace(ClusterView(RealCluster(kubeconfig, kubectl), namespace), names)
        failed = [f"{n}: {row.messages[n]}" for n in names if not row.results[n]]
        row.error = "; ".join(failed)
        progress.write(f"[{number}/{len(namespaces)}] {namespace}: {row.passed}/{len(names)} passed\n")
        progress.flush()
        rows.append(row)
    return rows


def exercises(rows: list[Row]) -> list[str]:
    """Every exercise any notebook checks: in source order first, then any seen only in outputs."""
    names: list[str] = []
    for row in rows:
        for name in [*row.expected, *row.results]:
            if name not in names:
                names.append(name)
    return names


def _mark(row: Row, name: str) -> str:
    if name not in row.results:
        return MISSING
    return PASSED if row.results[name] else FAILED


def _cell(text: str) -> str:
    """Markdown table cells: no pipes or newlines from an error message may break the table."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def markdown_table(rows: list[Row], first: str = "notebook") -> str:
    """The grades as a Markdown table; ``first`` heads the column naming each row (notebook, namespace)."""
    names = exercises(rows)
    head = [first, *names, "passed", "notes"]
    lines = ["| " + " | ".join(_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.notebook, *[_mark(row, n) for n in names], f"{row.passed}/{len(names)}", row.error]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[Row], path: str | Path) -> None:
    """One line per notebook: pass/fail/blank per exercise, the count passed, and the error if any."""
    names = exercises(rows)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["notebook", *names, "passed", "total", "error"])
        for row in rows:
            marks = ["" if n not in row.results else ("pass" if row.results[n] else "fail") for n in names]
            writer.writerow([row.notebook, *marks, row.passed, len(names), row.error])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minik8s grade",
                                     description="Run lab notebooks in fresh kernels and tabulate their checks.")
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK")
    shared = parser.add_argument_group("grading on a shared cluster (see minik8s classroom)")
    shared.add_argument("--namespaces-from", metavar="STUDENTS_FILE",
                        help="grade these students' namespaces on the cluster of --kubeconfig instead of notebooks")
    shared.add_argument("--lab", help="the lab whose checks to run: its number (16) or its notebook")
    shared.add_argument("--kubeconfig", help="the grader's kubeconfig (default $KUBECONFIG)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per notebook (default 120)")
    parser.add_argument("--csv", metavar="FILE", help="also write the results as CSV")
    parser.add_argument("--markdown", metavar="FILE", help="also write the Markdown table to a file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``minik8s grade``: prints the Markdown table; 0 once every notebook has a row (whatever the grades)."""
    args = _parser().parse_args(argv)
    if args.timeout <= 0:
        print("minik8s grade: --timeout must be positive", file=sys.stderr)
        return 2
    if args.namespaces_from:
        rows = _grade_shared(args)
        if rows is None:
            return 2
    elif not args.notebooks:
        print("minik8s grade: give notebooks, or --namespaces-from with --lab", file=sys.stderr)
        return 2
    else:
        rows = grade(args.notebooks, args.timeout)
    table = markdown_table(rows, "namespace" if args.namespaces_from else "notebook")
    sys.stdout.write(table)
    if args.markdown:
        Path(args.markdown).write_text(table, encoding="utf-8")
    if args.csv:
        write_csv(rows, args.csv)
    return 0


def _grade_shared(args: argparse.Namespace) -> list[Row] | None:
    from minik8s.classroom import ClassroomError, read_students

    config = args.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    problem = ("--namespaces-from needs --lab" if not args.lab else
               "--namespaces-from needs --kubeconfig (the grader's)" if not config else "")
    if not problem:
        try:
            namespaces = read_students(Path(args.namespaces_from))
            names = lab_exercises(args.lab)
        except (ClassroomError, ValueError, OSError) as exc:
            problem = str(exc)
    if problem:
        print(f"minik8s grade: {problem}", file=sys.stderr)
        return None
    return grade_namespaces(config, namespaces, names)


if __name__ == "__main__":
    sys.exit(main())

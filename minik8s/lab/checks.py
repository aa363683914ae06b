"""Self-checking exercises: ``@exercise`` registers a check, ``check(name)`` runs it.

Every lab ends with exercises. Each has a check: a function that looks at the
cluster through a :class:`~minik8s.lab.session.ClusterView` (``kubectl get -o
json`` underneath, so it works on minik8s and on a real cluster alike) and
returns ``None`` when the cluster is in the asked-for state, or a *specific*
hint saying what is still wrong ("Pod nginx has no label tier").

Chapter authors put their checks in ``minik8s/lab/exercises/<chapter>.py``::

    @exercise("pods-1", hint="Create a Pod named web.")
    def pods_1(view):
        if view.get("pods", "web") is None:
            return "there is no Pod named web in namespace default"
        return None

    @pods_1.start          # the cluster as the student finds it
    def _(cluster): ...

    @pods_1.solution       # what a correct answer does, applied after start
    def _(cluster): cluster.kubectl("run web --image=nginx")

``tests/test_checks.py`` runs every registered exercise twice: on the start
state it must fail, on start + solution it must pass. So no check is vacuous.

In a notebook, ``check("pods-1")`` shows ``✅ pods-1: passed`` or
``❌ pods-1: <hint>`` and returns a bool. The output also carries the result as
JSON under the MIME type :data:`RESULT_MIME`, which is what ``minik8s grade``
reads back from an executed notebook (so printing a ✅ by hand earns nothing).

Taught in the labs' introduction (labs/00-sample.ipynb).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from minik8s.lab import session as lab_session
from minik8s.lab.session import ClusterView, LabError

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The MIME type of a check's result in a notebook's outputs: {"exercise", "passed", "message"}.
RESULT_MIME = "application/vnd.minik8s.check+json"

CheckFunction = Callable[[ClusterView], "str | None"]
Setup = Callable[["Cluster"], None]


@dataclass
class Exercise:
    """One exercise: its name, a general hint, the check, and how to reach its start and solution states."""

    name: str
    hint: str
    test: CheckFunction
    module: str
    nodes: int = 1
    start_state: Setup | None = field(default=None, repr=False)
    solution_state: Setup | None = field(default=None, repr=False)

    def start(self, fn: Setup) -> Setup:
        """Register the function that puts a fresh cluster in the exercise's start state."""
        self.start_state = fn
        return fn

    def solution(self, fn: Setup) -> Setup:
        """Register the function that solves the exercise (run after the start function)."""
        self.solution_state = fn
        return fn

    def evaluate(self, view: ClusterView) -> tuple[bool, str]:
        """(passed, message). A check that cannot run (no cluster, kubectl failing) is a failure that says why."""
        try:
            outcome = self.test(view)
        except LabError as exc:
            return False, f"could not check: {exc}"
        if outcome is None or outcome is True:
            return True, "passed"
        if outcome is False or not str(outcome).strip():
            return False, self.hint
        return False, str(outcome)


REGISTRY: dict[str, Exercise] = {}
_load_errors: dict[str, str] = {}


def exercise(name: str, hint: str, nodes: int = 1) -> Callable[[CheckFunction], Exercise]:
    """Register a check under ``name``. ``hint`` is shown when the check fails without saying more;
    ``nodes`` is how many nodes the tests' cluster needs for the start and solution states."""

    def register(fn: CheckFunction) -> Exercise:
        if name in REGISTRY:
            raise ValueError(f"exercise {name!r} is registered twice ({REGISTRY[name].module} and {fn.__module__})")
        REGISTRY[name] = Exercise(name, hint, fn, fn.__module__, nodes)
        return REGISTRY[name]

    return register


def load_all() -> dict[str, Exercise]:
    """Import every chapter's module in :mod:`minik8s.lab.exercises` (once), so all checks are registered.
    A chapter that fails to import is remembered, not raised: the other chapters' checks still work."""
    import minik8s.lab.exercises as package

    for info in pkgutil.iter_modules(package.__path__):
        module = f"{package.__name__}.{info.name}"
        if module in sys.modules or module in _load_errors:
            continue
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - one broken chapter must not break every lab
            _load_errors[module] = f"{type(exc).__name__}: {exc}"
    return REGISTRY


def evaluate(name: str, view: ClusterView | None = None) -> tuple[bool, str]:
    """Run one check: (passed, message)."""
    load_all()
    found = REGISTRY.get(name)
    if found is None:
        broken = "; ".join(f"{m}: {e}" for m, e in sorted(_load_errors.items()))
        why = f" (a chapter's checks failed to load: {broken})" if broken else ""
        return False, f"no exercise named {name!r}{why}"
    if view is None:
        current = lab_session.current()
        if current is None:
            return False, "could not check: no cluster: run %load_ext minik8s (or %minik8s start) first"
        view = current.view
    try:
        return found.evaluate(view)
    except Exception as exc:  # noqa: BLE001 - a bug in a check is reported in the cell, not as a traceback
        return False, f"the check itself failed ({type(exc).__name__}: {exc}); tell your teacher"


def format_result(name: str, passed: bool, message: str) -> str:
    return f"✅ {name}: passed" if passed else f"❌ {name}: {message}"


class CheckResult:
    """What ``check()`` returns: true when the exercise passed. It has already been shown, so as the
    last expression of a notebook cell it adds no ``Out[...]`` line of its own."""

    def __init__(self, passed: bool):
        self.passed = passed

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        return bool(self) == other if isinstance(other, (bool, CheckResult)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        pass  # check() displayed the ✅/❌ line already


def check(name: str, view: ClusterView | None = None) -> CheckResult:
    """Check exercise ``name`` against the lab's cluster; show ✅/❌ with a hint; return whether it passed."""
    passed, message = evaluate(name, view)
    line = format_result(name, passed, message)
    _show(line, {"exercise": name, "passed": passed, "message": message})
    return CheckResult(passed)


def _show(line: str, result: dict[str, Any]) -> None:
    """In IPython: one display output carrying the line and the machine-readable result. Elsewhere: print."""
    shell = None
    if "IPython" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        print(line)
        return
    from IPython.display import display

    display({"text/plain": line, RESULT_MIME: result}, raw=True)

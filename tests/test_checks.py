"""The exercise registry and check(): every registered check fails on its start state and passes on its
solution, so no check is vacuous; check() reports both ways and never raises."""

from __future__ import annotations

import pytest

from minik8s.cluster import Cluster
from minik8s.lab import checks
from minik8s.lab import session as lab_session
from minik8s.lab.checks import RESULT_MIME, Exercise, check, evaluate, exercise, load_all
from minik8s.lab.session import ClusterView, InProcess, KubectlResult, LabError

EXERCISES = sorted(load_all().values(), key=lambda e: e.name)


def _cluster(ex: Exercise) -> Cluster:
    return Cluster(nodes=ex.nodes, runtime="simulated", clock="virtual", seed=0)


def test_every_chapter_module_loads():
    assert checks._load_errors == {}
    assert {"sample-labels", "sample-namespace"} <= set(checks.REGISTRY)


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_exercise_has_start_and_solution(ex):
    assert ex.start_state is not None, f"{ex.name} registers no start(cluster) function"
    assert ex.solution_state is not None, f"{ex.name} registers no solution(cluster) function"


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_check_fails_on_start_state_with_a_hint(ex):
    with _cluster(ex) as cluster:
        if ex.start_state:
            ex.start_state(cluster)
        passed, message = ex.evaluate(ClusterView(InProcess(cluster)))
    assert not passed
    assert message and message != "passed"


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_check_passes_on_solution_state(ex):
    assert ex.solution_state is not None
    with _cluster(ex) as cluster:
        if ex.start_state:
            ex.start_state(cluster)
        ex.solution_state(cluster)
        assert ex.evaluate(ClusterView(InProcess(cluster))) == (True, "passed")


# --- the specific hints of the sample checks -------------------------------------------------

@pytest.fixture
def view():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        yield ClusterView(InProcess(cluster))


def test_sample_labels_hints(view):
    from minik8s.lab.exercises.sample import NGINX_POD

    assert "no Pod named nginx" in evaluate("sample-labels", view)[1]
    view.kubectl("apply -f -", stdin=NGINX_POD)
    assert "no label tier" in evaluate("sample-labels", view)[1]
    view.kubectl("label pod nginx tier=backend")
    assert evaluate("sample-labels", view) == (False,
                                               "Pod nginx has tier=backend, but the exercise asks for tier=frontend")
    view.kubectl("label pod nginx tier=frontend --overwrite")
    assert evaluate("sample-labels", view) == (True, "passed")


def test_sample_namespace_hint_for_wrong_namespace(view):
    view.kubectl("create namespace team-a")
    view.kubectl("apply -f -", stdin="apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\n"
                                     "spec: {containers: [{name: web, image: nginx}]}\n")
    passed, message = evaluate("sample-namespace", view)
    assert not passed and "namespace default" in message


# --- check() itself ------------------------------------------------------------------------

@pytest.fixture
def toy():
    """A throw-away exercise, removed again afterwards."""
    @exercise("toy-1", hint="make a ConfigMap toy")
    def toy_check(v):
        return None if v.get("configmaps", "toy") else False

    yield toy_check
    del checks.REGISTRY["toy-1"]


def test_check_prints_pass_and_fail(view, toy, capsys):
    assert not check("toy-1", view)
    assert capsys.readouterr().out == "❌ toy-1: make a ConfigMap toy\n"
    view.kubectl("create configmap toy")
    assert check("toy-1", view)
    assert capsys.readouterr().out == "✅ toy-1: passed\n"


def test_duplicate_names_are_refused(toy):
    with pytest.raises(ValueError, match="registered twice"):
        exercise("toy-1", hint="again")(lambda v: None)


def test_unknown_exercise(view, capsys):
    assert not check("no-such-thing", view)
    assert "no exercise named 'no-such-thing'" in capsys.readouterr().out


def test_check_without_a_cluster(capsys, monkeypatch):
    monkeypatch.setattr(lab_session, "_current", None)
    assert not check("sample-labels")
    assert "no cluster" in capsys.readouterr().out


def test_a_crashing_check_is_reported_not_raised(view, capsys):
    @exercise("toy-crash", hint="")
    def crash(v):
        raise KeyError("spec")

    try:
        assert not check("toy-crash", view)
        assert "the check itself failed (KeyError" in capsys.readouterr().out
    finally:
        del checks.REGISTRY["toy-crash"]


class _BrokenBackend:
    def kubectl(self, args, stdin=None):
        return KubectlResult(1, "", "The connection to the server localhost:8080 was refused\n")


def test_a_cluster_that_does_not_answer_fails_the_check_with_kubectls_message():
    passed, message = evaluate("sample-labels", ClusterView(_BrokenBackend()))  # type: ignore[arg-type]
    assert not passed and message == "could not check: The connection to the server localhost:8080 was refused"


def test_view_raises_lab_error_on_non_json():
    class Garbage:
        def kubectl(self, args, stdin=None):
            return KubectlResult(0, "NAME\n", "")

    with pytest.raises(LabError, match="not JSON"):
        ClusterView(Garbage()).list("pods")  # type: ignore[arg-type]


def test_check_in_ipython_carries_a_machine_readable_result(view, toy):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shown = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)  # type: ignore[method-assign]
    try:
        check("toy-1", view)
    finally:
        del shell.display_pub.publish
    assert shown == [{"text/plain": "❌ toy-1: make a ConfigMap toy",
                      RESULT_MIME: {"exercise": "toy-1", "passed": False, "message": "make a ConfigMap toy"}}]

"""The IPython extension: %load_ext minik8s, %kubectl, %%kubectl and %minik8s, in-process and against a
real cluster (the real kubectl binary), and the session helpers under them."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from minik8s.lab import magics
from minik8s.lab import session as lab_session
from minik8s.lab.session import format_duration, parse_duration
from conftest import needs_kubectl

NGINX = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: nginx
      labels:
        app: nginx
        env: prod
    spec:
      containers:
      - image: nginx:alpine
        name: container-0
    """)


@pytest.fixture
def shell(monkeypatch):
    monkeypatch.delenv(magics.KUBECONFIG_ENV, raising=False)
    ip = InteractiveShell.instance()
    yield ip
    magics.stop(quiet=True)
    if "minik8s" in ip.extension_manager.loaded:
        ip.extension_manager.loaded.discard("minik8s")


@pytest.fixture
def lab(shell, capsys):
    """A shell with the extension loaded (the default cluster: 3 simulated nodes, virtual clock, seed 0)."""
    shell.run_line_magic("load_ext", "minik8s")
    capsys.readouterr()
    return shell


def test_load_ext_starts_the_deterministic_default_cluster(shell, capsys):
    shell.run_line_magic("load_ext", "minik8s")
    out = capsys.readouterr().out
    assert out == ("minik8s: started an in-process cluster: 3 node(s), runtime=simulated, clock=virtual (t=0s), "
                   "seed=0\n")
    session = lab_session.current()
    assert session is not None and session.cluster is not None and session.cluster.virtual


def test_kubectl_line_magic_prints_kubectls_output_exactly(lab, capsys):
    lab.run_line_magic("kubectl", "get nodes")
    assert capsys.readouterr().out == textwrap.dedent("""\
        NAME     STATUS   ROLES    AGE   VERSION
        node-1   Ready    <none>   0s    v1.32.0
        node-2   Ready    <none>   0s    v1.32.0
        node-3   Ready    <none>   0s    v1.32.0
        """)
    assert magics.last_exit_code == 0


def test_cell_magic_applies_yaml_and_the_cluster_settles(lab, capsys):
    lab.run_cell_magic("kubectl", "apply -f -", NGINX)
    assert capsys.readouterr().out == "pod/nginx created\n"
    lab.run_line_magic("kubectl", "get pods --show-labels")
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
    assert out.splitlines()[1].split()[0] == "nginx" and out.splitlines()[1].endswith("app=nginx,env=prod")


def test_advance_moves_virtual_time(lab, capsys):
    lab.run_cell_magic("kubectl", "create -f -", NGINX)
    lab.run_line_magic("minik8s", "advance 2m")
    assert capsys.readouterr().out == "pod/nginx created\nminik8s: advanced 2m\n"
    lab.run_line_magic("kubectl", "get pod nginx --no-headers")
    assert capsys.readouterr().out.split()[:5] == ["nginx", "1/1", "Running", "0", "2m"]
    lab.run_line_magic("minik8s", "status")
    assert capsys.readouterr().out.endswith("clock=virtual (t=2m)\n")


def test_delete_from_a_cell(lab, capsys):
    lab.run_cell_magic("kubectl", "apply -f -", NGINX)
    lab.run_cell_magic("kubectl", "delete -f -", NGINX)
    assert capsys.readouterr().out == 'pod/nginx created\npod "nginx" deleted\n'


def test_magic_lines_are_not_expanded_by_ipython(lab, capsys):
    lab.run_cell_magic("kubectl", "apply -f -", NGINX)
    capsys.readouterr()
    lab.run_cell("%kubectl get pods -o jsonpath={.items[*].metadata.name}")
    assert capsys.readouterr().out == "nginx"


def test_a_bad_command_prints_kubectls_error_not_a_traceback(lab, capsys):
    result = lab.run_cell("%kubectl get frobnicators")
    captured = capsys.readouterr()
    assert result.success
    assert captured.err == 'error: the server doesn\'t have a resource type "frobnicators"\n'
    assert "Traceback" not in captured.out + captured.err
    assert magics.last_exit_code == 1


def test_invalid_yaml_in_a_cell_is_an_error_message(lab, capsys):
    result = lab.run_cell("%%kubectl apply -f -\nkind: Pod\nmetadata: [unclosed\n")
    captured = capsys.readouterr()
    assert result.success and captured.out == ""
    assert captured.err.startswith("error: ") and "Traceback" not in captured.err
    assert magics.last_exit_code == 1


def test_an_invalid_object_reports_the_servers_422(lab, capsys):
    lab.run_cell_magic("kubectl", "apply -f -", "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {}\n")
    err = capsys.readouterr().err
    assert err.startswith('The Pod "bad" is invalid: spec.containers: Required value')


def test_unbalanced_quotes_and_empty_cell_commands(lab, capsys):
    lab.run_line_magic("kubectl", "get pods -l 'app=nginx")
    assert capsys.readouterr().err == "error: No closing quotation\n"
    lab.run_cell_magic("kubectl", "", NGINX)
    assert "needs a command" in capsys.readouterr().err


def test_a_crash_inside_minik8s_does_not_reach_the_notebook(lab, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("the store is on fire")

    monkeypatch.setattr("minik8s.kubectl.main.run", boom)
    assert lab.run_cell("%kubectl get pods").success
    assert capsys.readouterr().err == ("error: minik8s failed while running this command: RuntimeError: "
                                       "the store is on fire\n")


def test_minik8s_magic_start_stop_and_bad_usage(lab, capsys):
    lab.run_line_magic("minik8s", "start --nodes 1 --seed 7")
    assert capsys.readouterr().out == ("minik8s: started an in-process cluster: 1 node(s), runtime=simulated, "
                                       "clock=virtual (t=0s), seed=7\n")
    lab.run_line_magic("minik8s", "advance soon")
    assert capsys.readouterr().err.startswith('minik8s: invalid duration "soon"')
    lab.run_line_magic("minik8s", "fly")
    assert "usage: %minik8s start" in capsys.readouterr().err
    lab.run_line_magic("minik8s", "stop")
    assert capsys.readouterr().out == "minik8s: stopped\n"
    lab.run_line_magic("kubectl", "get pods")
    assert capsys.readouterr().err == "error: no cluster: run %load_ext minik8s (or %minik8s start) first\n"
    lab.run_line_magic("minik8s", "status")
    assert capsys.readouterr().out == "minik8s: no cluster (run %minik8s start)\n"


def test_a_cluster_that_cannot_start_is_reported(shell, capsys, monkeypatch):
    def refuse(**kwargs):
        raise ValueError('unknown runtime "docker"')

    monkeypatch.setattr("minik8s.cluster.Cluster", refuse)
    shell.run_line_magic("load_ext", "minik8s")
    assert capsys.readouterr().err == ('minik8s: could not start the cluster: ValueError: unknown runtime "docker"\n')
    assert lab_session.current() is None


def test_unload_stops_the_cluster(lab):
    assert lab_session.current() is not None
    lab.run_line_magic("unload_ext", "minik8s")
    assert lab_session.current() is None


# --- real cluster mode -------------------------------------------------------------------------

@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch):
    """A stand-in `kubectl` on PATH that echoes its arguments and its stdin (and fails on 'get nope')."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "kubectl"
    script.write_text('#!/bin/sh\nif [ "$1" = "get" ] && [ "$2" = "nope" ]; then\n'
                      '  echo "error: the server doesn\'t have a resource type \\"nope\\"" >&2; exit 1\nfi\n'
                      'echo "KUBECONFIG=$KUBECONFIG args: $*"\ncat\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    return kubeconfig


def test_kubeconfig_env_runs_the_real_kubectl_binary(shell, capsys, fake_kubectl, monkeypatch):
    monkeypatch.setenv(magics.KUBECONFIG_ENV, str(fake_kubectl))
    shell.run_line_magic("load_ext", "minik8s")
    assert capsys.readouterr().out.startswith(f"minik8s: using the real cluster: kubeconfig {fake_kubectl}")
    shell.run_cell_magic("kubectl", "apply -f -", "kind: Pod\n")
    # the kubeconfig comes by $KUBECONFIG: the words typed reach kubectl first, as in a terminal
    assert capsys.readouterr().out == f"KUBECONFIG={fake_kubectl} args: apply -f -\nkind: Pod\n"
    shell.run_line_magic("kubectl", "get nope")
    assert capsys.readouterr().err == 'error: the server doesn\'t have a resource type "nope"\n'
    assert magics.last_exit_code == 1


def test_use_kubeconfig_needs_a_file_and_kubectl(lab, capsys, fake_kubectl, tmp_path, monkeypatch):
    lab.run_line_magic("minik8s", f"use-kubeconfig {tmp_path / 'missing'}")
    assert capsys.readouterr().err == f"minik8s: no kubeconfig at {tmp_path / 'missing'}\n"
    assert lab_session.current() is not None and lab_session.current().cluster is not None  # kept the old one
    lab.run_line_magic("minik8s", f"use-kubeconfig {fake_kubectl}")
    assert lab_session.current().cluster is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    lab.run_line_magic("minik8s", f"use-kubeconfig {fake_kubectl}")
    assert "the real kubectl is not on PATH" in capsys.readouterr().err


@needs_kubectl
def test_same_magics_against_a_real_server_with_the_real_kubectl(shell, capsys, server, monkeypatch):
    monkeypatch.setenv("HOME", str(server.kubeconfig.parent))  # kubectl's discovery cache
    monkeypatch.setenv(magics.KUBECONFIG_ENV, str(server.kubeconfig))
    shell.run_line_magic("load_ext", "minik8s")
    capsys.readouterr()
    shell.run_cell_magic("kubectl", "apply -f -", NGINX)
    assert capsys.readouterr().out == "pod/nginx created\n"
    shell.run_line_magic("kubectl", "get pods -o jsonpath={.items[*].metadata.labels.env}")
    assert capsys.readouterr().out == "prod"
    from minik8s.lab.checks import evaluate

    assert evaluate("sample-labels")[1].startswith("Pod nginx has no label tier")
    shell.run_line_magic("kubectl", "label pod nginx tier=frontend")
    assert capsys.readouterr().out == "pod/nginx labeled\n"
    assert evaluate("sample-labels") == (True, "passed")
    shell.run_line_magic("kubectl", "frobnicate")  # kubectl's own message, not one about plugins
    assert capsys.readouterr().err == 'Error: unknown command "frobnicate" for "kubectl"\n'
    assert magics.last_exit_code == 1


# --- durations ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,seconds", [("30s", 30), ("2m", 120), ("1h30m", 5400), ("90", 90), ("1.5s", 1.5),
                                          ("1m30s", 90)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5d", "m", "-3s", "2 m"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_format_duration():
    assert [format_duration(s) for s in (0, 5, 60, 90, 3600, 3725)] == ["0s", "5s", "1m", "1m30s", "1h", "1h2m5s"]


# --- the nbval sanitizer -----------------------------------------------------------------------

def _sanitize(text: str) -> str:
    import re
    from pathlib import Path

    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((Path(__file__).parent.parent / "labs" / "sanitize.cfg").read_text())
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize("text,expected", [
    ("nginx   1/1     Running   0          50s   10.244.3.2   node-3",
     "nginx   1/1     Running   0          AGE   IP   node-3"),
    ("web   0/1   Pending   0   2m5s", "web   0/1   Pending   0   AGE"),
    ("db-0   1/1   Running   1 (3h5m ago)   2d3h", "db-0   1/1   Running   1 (AGE ago)   AGE"),
    ("nginx-7f98958cdf-x7k2p   1/1", "nginx-HASH-SUFFIX   1/1"),
    ("replicaset.apps/nginx-7f98958cdf", "replicaset.apps/nginx-HASH"),
    ("job-x7k2p created", "job-SUFFIX created"),
    ("uid: 3f2b1c9e-8d7a-4b6c-9e5f-0a1b2c3d4e5f", "uid: UID"),
    ("creationTimestamp: 2025-01-01T00:00:50Z", "creationTimestamp: TIMESTAMP"),
    ("1.0: digest: sha256:" + "0a" * 32 + " size: 21351", "1.0: digest: IMAGE-DIGEST size: SIZE"),
    ("CreationTimestamp:  Sun, 16 Dec 2018 19:21:58 +0800", "CreationTimestamp:  TIMESTAMP"),
    # what must survive: names, quantities, versions, the sample lab's names
    ("node-1   Ready   <none>   v1.32.0", "node-1   Ready   <none>   v1.32.0"),
    ("cpu: 100m memory: 200Mi kube-system sample-labels team-a",
     "cpu: 100m memory: 200Mi kube-system sample-labels team-a"),
])
def test_sanitizer(text, expected):
    assert _sanitize(text) == expected


def test_check_can_be_imported_from_the_package() -> None:
    from minik8s.lab import check
    from minik8s.lab.checks import check as the_check

    assert check is the_check
    with pytest.raises(ImportError):
        from minik8s.lab import chekc  # noqa: F401


# --- the committed notebooks ------------------------------------------------------------------------------

def _outputs(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "".join("".join(o.get("text", "")) + "".join((o.get("data") or {}).get("text/plain", ""))
                   for c in cells for o in c.get("outputs") or [])


LABS = Path(__file__).resolve().parent.parent / "labs"


@pytest.mark.parametrize("notebook", sorted(LABS.glob("solutions/*.ipynb")), ids=lambda p: p.name)
def test_every_committed_solution_passes_its_checks(notebook):
    """nbval only compares a re-run with the committed outputs: a solution whose hard-coded name went
    stale after a re-run would keep its ❌ for ever unless something looks."""
    assert "❌" not in _outputs(notebook)


@pytest.mark.parametrize("notebook", sorted([*LABS.glob("*.ipynb"), *LABS.glob("solutions/*.ipynb")]),
                         ids=lambda p: str(p.relative_to(LABS)))
def test_no_committed_lab_recorded_a_clash_with_another_cluster(notebook):
    text = _outputs(notebook)
    assert "Address already in use" not in text and "cannot listen on" not in text

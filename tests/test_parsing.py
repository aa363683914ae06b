"""Tests for minik8s.api.parsing: bounded YAML and JSON, duplicate keys, and its users
(``minik8s kubectl -f``, ``Cluster.apply``, the ``%%kubectl`` magic)."""

from __future__ import annotations

import time

import pytest

from minik8s import Cluster
from minik8s.api import parsing
from minik8s.cluster import KubectlError
from minik8s.kubectl import manifests


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A ConfigMap whose data expands to width**levels strings ("billion laughs"), as in
    CVE-2019-11253 against kube-apiserver."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: yaml-bomb", "data:",
             "  a: &a [" + ",".join(['"lol"'] * width) + "]"]
    names = [chr(ord("a") + i) if i < 26 else f"x{i}" for i in range(levels)]
    for prev, name in zip(names, names[1:]):
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


BOMB_SMALL = alias_bomb()
BOMB_1K = alias_bomb(levels=25, width=9)


def test_the_bombs_are_the_sizes_of_the_report():
    assert len(BOMB_SMALL) < 430  # the report's was 377 bytes: the same nine levels of nine aliases
    assert 900 < len(BOMB_1K) <= 1024  # 9**25 strings once expanded


@pytest.mark.parametrize("bomb", [BOMB_SMALL, BOMB_1K], ids=["small", "1KB"])
def test_alias_bomb_is_refused_before_it_expands(bomb):
    started = time.perf_counter()
    with pytest.raises(parsing.ParseError) as caught:
        parsing.load_yaml(bomb)
    elapsed = time.perf_counter() - started
    assert str(caught.value) == "yaml: document contains excessive aliasing"
    assert caught.value.upstream == "error converting YAML to JSON: yaml: document contains excessive aliasing"
    assert elapsed < 1.0  # measured: well under a millisecond


def test_aliases_within_the_bound_load_as_independent_copies():
    doc = parsing.load_yaml("base: &b {image: nginx, ports: [80]}\none: *b\ntwo: {<<: *b, image: redis}\n").value
    assert doc == {"base": {"image": "nginx", "ports": [80]}, "one": {"image": "nginx", "ports": [80]},
                   "two": {"image": "redis", "ports": [80]}}
    doc["one"]["ports"].append(443)
    assert doc["base"]["ports"] == [80]  # an alias is a copy, as Go decodes it, not a shared list


def test_expansion_bound_counts_what_aliases_write_out():
    big = "x" * 1000
    text = f"a: &a {big}\nb: [" + ",".join(["*a"] * 50) + "]\n"
    assert len(parsing.load_yaml(text, max_expanded=60_000).value["b"]) == 50
    with pytest.raises(parsing.ParseError, match="excessive aliasing"):
        parsing.load_yaml(text, max_expanded=40_000)


def test_an_anchor_that_contains_itself_is_refused():
    with pytest.raises(parsing.ParseError, match="anchor 'a' value contains itself"):
        parsing.load_yaml("a: &a [1, *a]\n")


def test_an_unknown_alias_is_refused():
    with pytest.raises(parsing.ParseError, match="unknown anchor 'b' referenced"):
        parsing.load_yaml("a: *b\n")


@pytest.mark.parametrize("text", ["[" * 5000, "a:\n" + "".join("  " * i + "- \n" for i in range(1, 400))],
                         ids=["flow", "block"])
def test_yaml_deeper_than_the_limit_is_refused_without_recursion(text):
    with pytest.raises(parsing.ParseError, match=f"yaml: exceeded max depth of {parsing.MAX_DEPTH}"):
        parsing.load_yaml(text)


def test_yaml_depth_limit_is_exact():
    depth = parsing.MAX_DEPTH
    assert parsing.load_yaml("[" * depth + "]" * depth).value is not None
    with pytest.raises(parsing.ParseError, match="exceeded max depth"):
        parsing.load_yaml("[" * (depth + 1) + "]" * (depth + 1))


@pytest.mark.parametrize("depth", [parsing.MAX_DEPTH + 1, 1000, 1025, 100_000])
def test_json_deeper_than_the_limit_is_refused(depth):
    with pytest.raises(parsing.ParseError) as caught:
        parsing.load_json("[" * depth + "]" * depth)
    assert caught.value.upstream == f"couldn't get version/kind; json parse error: exceeded max depth of " \
                                    f"{parsing.MAX_DEPTH}"
    assert len(parsing.load_json("[" * parsing.MAX_DEPTH + "]" * parsing.MAX_DEPTH).value) == 1


def test_text_larger_than_the_limit_is_refused():
    with pytest.raises(parsing.ParseError, match="larger than 100 bytes"):
        parsing.load_json(" " * 99 + "{}", max_bytes=100)
    with pytest.raises(parsing.ParseError, match="larger than 100 bytes"):
        parsing.load_yaml("a: " + "b" * 100, max_bytes=100)


def test_json_errors_in_go_words_where_they_match():
    for text in ("", "   ", '{"a": '):
        with pytest.raises(parsing.ParseError, match="^unexpected end of JSON input$"):
            parsing.load_json(text)
    with pytest.raises(parsing.ParseError, match="invalid character 'N' looking for beginning of value"):
        parsing.load_json("NaN")  # Python's json accepts NaN; JSON (and Go) does not


def test_yaml_syntax_errors_name_the_line():
    with pytest.raises(parsing.ParseError, match=r"^yaml: line 2: mapping values are not allowed in this context$"):
        parsing.load_yaml("a: 1\nb: c: d\n")


def test_duplicate_json_keys_are_reported_with_their_path_and_the_last_wins():
    parsed = parsing.load_json('{"kind": "Pod", "metadata": {"name": "a", "name": "b"}, '
                               '"spec": {"containers": [{"name": "c", "image": "x", "image": "y"}]}}')
    assert parsed.value["metadata"]["name"] == "b"
    assert sorted(parsed.strict_errors) == ['duplicate field "metadata.name"',
                                            'duplicate field "spec.containers[0].image"']


def test_duplicate_yaml_keys_are_reported_in_go_yaml_words():
    parsed = parsing.load_yaml("kind: Pod\nmetadata:\n  name: a\n  name: b\nspec: {}\nkind: Pod\n")
    assert parsed.value == {"kind": "Pod", "metadata": {"name": "b"}, "spec": {}}
    assert parsed.strict_errors == ['yaml: unmarshal errors:\n  line 4: key "name" already set in map\n'
                                    '  line 6: key "kind" already set in map']


def test_values_are_plain_json():
    doc = parsing.load_yaml("date: 2024-01-01\n2: two\non: off\n").value  # YAML 1.1: on/off are booleans
    assert doc == {"date": "2024-01-01", "2": "two", "true": False}


def test_multi_document_streams_and_safe_load():
    assert parsing.safe_load_all("a: 1\n---\n---\nb: 2\n") == [{"a": 1}, None, {"b": 2}]
    assert parsing.safe_load("") is None
    with pytest.raises(parsing.ParseError, match="excessive aliasing"):
        parsing.safe_load_all("ok: 1\n---\n" + BOMB_SMALL)


# --- the users: kubectl -f, Cluster.apply, %%kubectl ---------------------------------------------


def test_kubectl_manifests_refuse_a_bomb_in_kubectls_words(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB_1K)
    started = time.perf_counter()
    with pytest.raises(manifests.ManifestError) as caught:
        manifests.read([str(path)], None)
    assert time.perf_counter() - started < 1.0
    assert str(caught.value) == (f"error parsing {path}: error converting YAML to JSON: "
                                 "yaml: document contains excessive aliasing")
    with pytest.raises(manifests.ManifestError, match="exceeded max depth"):
        manifests.read(["-"], "[" * 5000)


def test_cluster_apply_refuses_a_bomb_quickly():
    with Cluster(nodes=0) as cluster:
        started = time.perf_counter()
        with pytest.raises(KubectlError) as caught:
            cluster.apply(BOMB_1K)
        assert time.perf_counter() - started < 1.0
        assert caught.value.code == 1
        assert "document contains excessive aliasing" in str(caught.value)
        assert "yaml-bomb" not in cluster.kubectl("get configmaps")


def test_kubectl_cell_magic_refuses_a_bomb(capsys):
    from minik8s.lab import magics

    magics.start(nodes=0, quiet=True)
    try:
        started = time.perf_counter()
        magics.kubectl_magic("apply -f -", BOMB_SMALL)
        assert time.perf_counter() - started < 1.0
        assert magics.last_exit_code == 1
        assert "document contains excessive aliasing" in capsys.readouterr().err
    finally:
        magics.stop(quiet=True)

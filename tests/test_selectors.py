"""Tests for minik8s.api.selectors: label and field selectors, label validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.api.selectors import (
    EVERYTHING,
    NOTHING,
    FieldSelector,
    FieldTerm,
    LabelSelector,
    Requirement,
    check_field_selector,
    format_label_selector,
    from_label_selector,
    is_qualified_name,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
    validate_label_selector,
    validate_labels,
)

LABEL_REGEX_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_REGEX_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
    "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


# --- parsing and matching -----------------------------------------------------------------

def test_parse_mixed_selector_and_canonical_string() -> None:
    sel = parse_label_selector("env in (qa, prod),tier!=frontend,!legacy,app")
    assert str(sel) == "app,env in (prod,qa),!legacy,tier!=frontend"
    assert sel.matches({"app": "web", "env": "prod", "tier": "backend"})
    assert sel.matches({"app": "web", "env": "qa"})  # tier missing: != matches
    assert not sel.matches({"app": "web", "env": "dev"})
    assert not sel.matches({"app": "web", "env": "prod", "legacy": "true"})
    assert not sel.matches({"env": "prod"})  # app must exist
    assert not sel.matches({"app": "web", "env": "prod", "tier": "frontend"})


@pytest.mark.parametrize("text, labels, expected", [
    ("a=b", {"a": "b"}, True),
    ("a==b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a=b", {}, False),
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a notin (x,y)", {}, True),
    ("a notin (x,y)", {"a": "x"}, False),
    ("a in (x,y)", {}, False),
    ("a=", {"a": ""}, True),
    ("a=", {"a": "x"}, False),
    ("a in ()", {"a": ""}, True),
    ("a", {"a": ""}, True),
    ("!a", {"a": ""}, False),
    ("a>5", {"a": "6"}, True),
    ("a>5", {"a": "5"}, False),
    ("a<5", {"a": "-2"}, True),
    ("a<5", {"a": "x"}, False),
    ("a<5", {}, False),
    ("k in (in,notin)", {"k": "notin"}, True),
    ("", {"anything": "x"}, True),
])
def test_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_whitespace_tolerance() -> None:
    assert str(parse_label_selector("  a = b ,\tc   in ( x , y ) ")) == "a=b,c in (x,y)"


def test_canonical_form_sorts_and_dedupes_values() -> None:
    assert str(parse_label_selector("z=1,a notin (c,b,c)")) == "a notin (b,c),z=1"
    assert str(parse_label_selector("x in (foo,,baz)")) == "x in (,baz,foo)"
    assert str(parse_label_selector("a>3,b<4")) == "a>3,b<4"


@pytest.mark.parametrize("text, message", [
    ("a,", "found '', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in", "unable to parse requirement: found '' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": "
            "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("-bad", f'unable to parse requirement: <nil>: Invalid value: "-bad": {NAME_REGEX_MSG}'),
    ("a=-x", f'unable to parse requirement: values[0][a]: Invalid value: "-x": {LABEL_REGEX_MSG}'),
    ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
    ("a=" + "v" * 64, 'unable to parse requirement: values[0][a]: Invalid value: "' + "v" * 64
     + '": must be no more than 63 characters'),
])
def test_parse_errors_use_upstream_wording(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_label_selector(text)
    assert str(err.value) == message


def test_prefixed_keys() -> None:
    sel = parse_label_selector("app.kubernetes.io/name=web")
    assert sel.matches({"app.kubernetes.io/name": "web"})
    with pytest.raises(ValueError, match="prefix part a lowercase RFC 1123 subdomain"):
        parse_label_selector("Bad_Prefix/name=web")
    with pytest.raises(ValueError, match="a qualified name must consist"):
        parse_label_selector("a/b/c")


def test_everything_and_nothing() -> None:
    assert EVERYTHING.empty and EVERYTHING.matches(None) and EVERYTHING.matches({"a": "b"})
    assert not NOTHING.empty and not NOTHING.matches({}) and not NOTHING.matches({"a": "b"})
    assert LabelSelector.everything() is EVERYTHING and LabelSelector.nothing() is NOTHING
    assert parse_label_selector("").empty
    assert not parse_label_selector("a").empty


def test_requirement_new_validates() -> None:
    with pytest.raises(ValueError, match="values set can't be empty"):
        Requirement.new("a", "in", [])
    with pytest.raises(ValueError, match="exact-match compatibility requires one single value"):
        Requirement.new("a", "=", ["x", "y"])
    with pytest.raises(ValueError, match='Unsupported value: "~"'):
        Requirement.new("a", "~", ["x"])


def test_from_set_and_exact_match() -> None:
    sel = LabelSelector.from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.requires_exact_match("b") == "2"
    assert sel.requires_exact_match("c") is None
    assert LabelSelector.from_set(None).empty


# --- metav1.LabelSelector -------------------------------------------------------------------

def test_from_label_selector() -> None:
    spec = {"matchLabels": {"app": "nginx"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["b", "a"]},
                                 {"key": "legacy", "operator": "DoesNotExist"}]}
    sel = from_label_selector(spec)
    assert str(sel) == "app=nginx,env in (a,b),!legacy"
    assert sel.matches({"app": "nginx", "env": "a"})
    assert not sel.matches({"app": "nginx", "env": "a", "legacy": "1"})
    assert from_label_selector(None) is NOTHING
    assert from_label_selector({}) is EVERYTHING
    with pytest.raises(ValueError, match='"Foo" is not a valid label selector operator'):
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "Foo"}]})


def test_format_label_selector() -> None:
    assert format_label_selector({"matchLabels": {"app": "nginx"}}) == "app=nginx"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({"matchLabels": {"app": "nginx"},
                                  "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}
                                 ) == "app=nginx,env in (a,b)"


def test_validate_label_selector_messages() -> None:
    spec = {"matchLabels": {"app": "-x"},
            "matchExpressions": [{"key": "a", "operator": "In"},
                                 {"key": "b", "operator": "Exists", "values": ["v"]},
                                 {"key": "c", "operator": "Unknown", "values": ["v"]},
                                 {"key": "bad key", "operator": "NotIn", "values": ["ok", "-no"]}]}
    errs = [str(e) for e in validate_label_selector(spec, "spec.selector")]
    assert errs[0] == f'spec.selector.matchLabels: Invalid value: "-x": {LABEL_REGEX_MSG}'
    assert errs[1] == ("spec.selector.matchExpressions[0].values: Required value: "
                       "must be specified when `operator` is 'In' or 'NotIn'")
    assert errs[2] == ("spec.selector.matchExpressions[1].values: Forbidden: "
                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
    assert errs[3] == ('spec.selector.matchExpressions[2].operator: Invalid value: "Unknown": '
                       "not a valid selector operator")
    assert errs[4] == f'spec.selector.matchExpressions[3].key: Invalid value: "bad key": {NAME_REGEX_MSG}'
    assert errs[5] == f'spec.selector.matchExpressions[3].values[1]: Invalid value: "-no": {LABEL_REGEX_MSG}'
    assert len(errs) == 6
    assert validate_label_selector(None, "spec.selector") == []


def test_validate_labels() -> None:
    errs = validate_labels({"ok": "fine", "-bad": "v", "k": "-bad"}, "metadata.labels")
    assert [str(e) for e in errs] == [
        f'metadata.labels: Invalid value: "-bad": {NAME_REGEX_MSG}',
        f'metadata.labels: Invalid value: "-bad": {LABEL_REGEX_MSG}',
    ]
    assert errs[0].reason == "FieldValueInvalid"
    assert validate_labels(None, "metadata.labels") == []


def test_qualified_name_edge_cases() -> None:
    assert is_qualified_name("a" * 63) == []
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 characters"]
    assert is_qualified_name("example.com/" + "a" * 63) == []
    assert is_qualified_name("") == ["name part must be non-empty", NAME_REGEX_MSG]
    assert is_qualified_name(("a" * 63 + ".") * 4 + "a/x")[0] == "prefix part must be no more than 253 characters"


# --- field selectors --------------------------------------------------------------------------

def test_field_selector_parse_and_match() -> None:
    sel = parse_field_selector("status.phase!=Running,spec.nodeName==node-1")
    assert str(sel) == "spec.nodeName=node-1,status.phase!=Running"
    assert sel.fields() == {"spec.nodeName", "status.phase"}
    assert sel.matches({"spec.nodeName": "node-1", "status.phase": "Pending"})
    assert not sel.matches({"spec.nodeName": "node-1", "status.phase": "Running"})
    assert not sel.matches({"status.phase": "Pending"})  # a missing field reads as ""
    assert parse_field_selector("spec.nodeName=").matches({})
    assert parse_field_selector("").empty
    assert parse_field_selector("a=b").requires_exact_match("a") == "b"


def test_field_selector_escapes() -> None:
    sel = parse_field_selector(r"a=x\,y\=z\\w,b=c")
    assert sel.matches({"a": "x,y=z\\w", "b": "c"})
    assert str(sel) == r"a=x\,y\=z\\w,b=c"
    with pytest.raises(ValueError, match=r"invalid escape sequence: \\q"):
        parse_field_selector(r"a=\q")
    with pytest.raises(ValueError, match="unescaped character in value: 61"):
        parse_field_selector("a=b=c")
    with pytest.raises(ValueError) as err:
        parse_field_selector("nonsense")
    assert str(err.value) == "invalid selector: 'nonsense'; can't understand 'nonsense'"


def test_object_fields_for_pods_and_events() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": True},
           "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}}
    fields = object_fields("pods", pod)
    assert fields["metadata.name"] == "p" and fields["metadata.namespace"] == "ns"
    assert fields["spec.nodeName"] == "n1" and fields["spec.hostNetwork"] == "true"
    assert fields["status.podIP"] == "10.0.0.5" and fields["spec.schedulerName"] == ""
    event = {"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {"kind": "Pod", "name": "p"},
             "reason": "Scheduled", "type": "Normal", "reportingComponent": "default-scheduler"}
    ev = object_fields("events", event)
    assert ev["involvedObject.kind"] == "Pod" and ev["source"] == "default-scheduler"
    assert object_fields("nodes", {"metadata": {"name": "n"}}) == {"metadata.name": "n",
                                                                  "spec.unschedulable": "false"}
    assert object_fields("replicasets", {"metadata": {"name": "r", "namespace": "d"},
                                         "status": {"replicas": 3}})["status.replicas"] == "3"
    assert object_fields("jobs", {"metadata": {}})["status.successful"] == "0"
    assert object_fields("secrets", {"type": "Opaque", "metadata": {}})["type"] == "Opaque"


def test_check_field_selector() -> None:
    assert check_field_selector("pods", parse_field_selector("spec.nodeName=n")).fields() == {"spec.nodeName"}
    converted = check_field_selector("pods", parse_field_selector("spec.host=n"))
    assert str(converted) == "spec.nodeName=n"
    with pytest.raises(ValueError) as err:
        check_field_selector("pods", parse_field_selector("spec.foo=x"))
    assert str(err.value) == "field label not supported: spec.foo"
    with pytest.raises(ValueError) as err:
        check_field_selector("ingresses", parse_field_selector("foo.bar=baz"))
    assert str(err.value) == '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'
    with pytest.raises(ValueError, match="field label not supported: metadata.namespace"):
        check_field_selector("nodes", parse_field_selector("metadata.namespace=x"))
    assert "metadata.namespace" in supported_fields("configmaps")


# --- properties -----------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "app", "example.com/tier", "x_y.z", "in"])
VALUES = st.sampled_from(["", "v", "prod", "qa", "in", "notin", "1", "10", "A.b-c_d"])
NUMBERS = st.sampled_from(["0", "1", "5", "10"])  # "-3" is no valid label value, so no selector has it
LABELS = st.dictionaries(KEYS, st.one_of(VALUES, NUMBERS, st.just("-3")), max_size=6)


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    key = draw(KEYS)
    op = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]))
    if op in ("exists", "!"):
        values: list[str] = []
    elif op in ("gt", "lt"):
        values = [draw(NUMBERS)]
    elif op in ("in", "notin"):
        values = draw(st.lists(st.one_of(VALUES, NUMBERS), min_size=1, max_size=4, unique=True))
    else:
        values = [draw(st.one_of(VALUES, NUMBERS))]
    return Requirement.new(key, op, values)


SELECTORS = st.lists(requirements(), max_size=5).map(LabelSelector.of)


@given(SELECTORS, st.lists(LABELS, min_size=1, max_size=8))
def test_string_form_round_trips(sel: LabelSelector, label_maps: list[dict[str, str]]) -> None:
    reparsed = parse_label_selector(str(sel))
    assert str(reparsed) == str(sel)
    for labels in label_maps:
        assert reparsed.matches(labels) == sel.matches(labels)


@given(KEYS, st.one_of(VALUES, NUMBERS), LABELS)
def test_equality_selector_matches_iff_equal(key: str, value: str, labels: dict[str, str]) -> None:
    sel = parse_label_selector(f"{key}={value}")
    assert sel.matches(labels) == (labels.get(key) == value)
    assert parse_label_selector(f"{key}!={value}").matches(labels) == (labels.get(key) != value)


SELECTOR_ALPHABET = st.sampled_from(list("ab=!(),<> \t-/._1") + ["in", "notin", "é", "\x00"])


@settings(max_examples=300)
@given(st.one_of(st.text(), st.lists(SELECTOR_ALPHABET).map("".join)))
def test_parsing_random_text_raises_only_value_error(text: str) -> None:
    try:
        sel = parse_label_selector(text)
    except ValueError:
        return
    # Whatever parses must print to something that parses to the same thing.
    assert str(parse_label_selector(str(sel))) == str(sel)


@settings(max_examples=200)
@given(st.one_of(st.text(), st.lists(st.sampled_from(list("ab=!,\\ ")), max_size=12).map("".join)))
def test_field_selector_random_text_raises_only_value_error(text: str) -> None:
    try:
        sel = parse_field_selector(text)
    except ValueError:
        return
    assert isinstance(sel, FieldSelector)


@given(st.text(max_size=10), st.sampled_from(["a", "spec.nodeName"]), st.booleans())
def test_field_value_escaping_round_trips(value: str, field: str, negated: bool) -> None:
    sel = FieldSelector((FieldTerm(field, value, negated),))
    again = parse_field_selector(str(sel))
    assert again == sel
    assert again.matches({field: value}) is (not negated)

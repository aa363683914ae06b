"""Label selectors, field selectors and the validation of label keys and values.

Labels are how Kubernetes groups objects: a Service finds its Pods, a ReplicaSet counts
its replicas and ``kubectl get -l`` filters, all through a *label selector*. A *field
selector* filters on a few fields of an object (``kubectl get pods
--field-selector spec.nodeName=node-1``); the kubelet and the scheduler use them to watch
only the Pods that concern them.

Interface:
    parse_label_selector("env in (prod,qa),tier!=frontend,!legacy")  -> LabelSelector
    selector.matches({"env": "prod"})                                -> bool
    str(selector)                 # canonical form, requirements sorted by key (upstream String())
    EVERYTHING, NOTHING           # the selectors matching every / no label set
    from_label_selector(spec)     # a metav1.LabelSelector dict -> LabelSelector (None -> NOTHING)
    validate_label_selector(spec, "spec.selector")  -> list[FieldError]
    format_label_selector(spec)   # what kubectl describe prints: "app=nginx" or "<none>"
    validate_labels(labels, "metadata.labels")      -> list[FieldError]
    is_qualified_name(text), is_valid_label_value(text), is_dns1123_subdomain(text) -> list[str]
    parse_field_selector("status.phase!=Running,spec.nodeName=n1")   -> FieldSelector
    object_fields("pods", pod)    # the fields a resource lets you select on, as strings
    check_field_selector("pods", selector)   # ValueError for a field the resource does not offer

Invariants:
    * parse_label_selector(str(s)) selects exactly the label sets that s selects.
    * Malformed input raises ValueError, with upstream's message (k8s.io/apimachinery
      ``labels.Parse``, ``fields.ParseSelector``); nothing else escapes the parsers.
    * A requirement on a missing label: ``!=`` and ``notin`` match, ``=``, ``in``, ``gt``,
      ``lt`` and ``exists`` do not.

Taught in the chapter on labels, selectors and annotations (its number is set by the book's outline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from minik8s.api import resources
from minik8s.api.errors import FieldError, forbidden_field, invalid_value, not_supported, required

# --- label keys and values (k8s.io/apimachinery/pkg/util/validation) ------------------------

QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character")
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric character")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                          "characters, '-' or '.', and must start and end with an alphanumeric character")

_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Upstream's RegexError leaves a comma after every example, hence "'MyName',  or".
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _size(text: str) -> int:
    # Go measures strings in bytes.
    return len(text.encode("utf-8"))


def is_dns1123_subdomain(value: str) -> list[str]:
    """Why ``value`` is not a DNS-1123 subdomain (``example.com``); empty when it is one."""
    errs = []
    if _size(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Why ``value`` is not a qualified name (``[prefix/]name``), the form of label keys."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _size(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + _max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _QNAME_RE.fullmatch(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """Why ``value`` is not a label value (63 characters at most, may be empty)."""
    errs = []
    if _size(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(_max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def validate_qualified_name(value: str, path: str) -> list[FieldError]:
    """Field errors for a label key (upstream ``ValidateLabelName``)."""
    return [invalid_value(path, value, msg) for msg in is_qualified_name(value)]


def validate_label_value(value: str, path: str) -> list[FieldError]:
    return [invalid_value(path, value, msg) for msg in is_valid_label_value(value)]


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """Field errors for ``metadata.labels``; upstream reports them all on the map's path."""
    errs: list[FieldError] = []
    for key, value in (labels or {}).items():
        errs.extend(validate_qualified_name(key, path))
        if not isinstance(value, str):
            errs.append(invalid_value(path, value, "must be a string"))
            continue
        errs.extend(validate_label_value(value, path))
    return errs


# --- requirements and label selectors -----------------------------------------------------

# The operators of k8s.io/apimachinery/pkg/selection, spelled as upstream spells them.
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_ALL_OPERATORS = _BINARY_OPERATORS + (EXISTS, DOES_NOT_EXIST)


def _parse_int64(text: str) -> int | None:
    # strconv.ParseInt(s, 10, 64): optional sign, decimal digits, 64-bit range.
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _aggregate(errors: list[FieldError]) -> str:
    # utilerrors.NewAggregate: one error prints bare, several print as "[a, b]".
    if len(errors) == 1:
        return str(errors[0])
    return "[" + ", ".join(str(e) for e in errors) + "]"


def _go_string_list(values: Iterable[str]) -> str:
    # How Go's %#v prints a []string: []string{"a", "b"}.
    return "[]string{" + ", ".join('"' + v + '"' for v in values) + "}"


@dataclass(frozen=True)
class Requirement:
    """One condition on one label key, e.g. ``env in (prod,qa)``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: str, operator: str, values: Iterable[str] = (), path: str = "") -> "Requirement":
        """Build a checked requirement (upstream ``NewRequirement``); ValueError when invalid."""
        vals = tuple(values)
        prefix = path + "." if path else ""
        errs = validate_qualified_name(key, prefix + "key")
        values_path = prefix + "values"
        if operator in (IN, NOT_IN):
            if not vals:
                errs.append(FieldError(values_path, "FieldValueInvalid",
                                       f"Invalid value: {_go_string_list(vals)}: "
                                       "for 'in', 'notin' operators, values set can't be empty"))
        elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            if len(vals) != 1:
                errs.append(FieldError(values_path, "FieldValueInvalid",
                                       f"Invalid value: {_go_string_list(vals)}: "
                                       "exact-match compatibility requires one single value"))
        elif operator in (EXISTS, DOES_NOT_EXIST):
            if vals:
                errs.append(FieldError(values_path, "FieldValueInvalid",
                                       f"Invalid value: {_go_string_list(vals)}: "
                                       "values set must be empty for exists and does not exist"))
        elif operator in (GREATER_THAN, LESS_THAN):
            if len(vals) != 1:
                errs.append(FieldError(values_path, "FieldValueInvalid",
                                       f"Invalid value: {_go_string_list(vals)}: "
                                       "for 'Gt', 'Lt' operators, exactly one value is required"))
            for i, value in enumerate(vals):
                if _parse_int64(value) is None:
                    errs.append(invalid_value(f"{values_path}[{i}]", value,
                                              "for 'Gt', 'Lt' operators, the value must be an integer"))
        else:
            errs.append(not_supported(prefix + "operator", operator, _ALL_OPERATORS))
        for i, value in enumerate(vals):
            errs.extend(validate_label_value(value, f"{values_path}[{i}][{key}]"))
        if errs:
            raise ValueError(_aggregate(errs))
        return cls(key, operator, vals)

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if self.operator in (GREATER_THAN, LESS_THAN):
            if not present or len(self.values) != 1:
                return False
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if self.operator == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        # Several values print sorted, so that equal selectors print equally.
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements. ``select_nothing`` marks upstream's ``labels.Nothing()``."""

    requirements: tuple[Requirement, ...] = ()
    select_nothing: bool = False

    @classmethod
    def everything(cls) -> "LabelSelector":
        return EVERYTHING

    @classmethod
    def nothing(cls) -> "LabelSelector":
        return NOTHING

    @classmethod
    def of(cls, requirements: Iterable[Requirement]) -> "LabelSelector":
        # Sorted by key (stably), as upstream's Add() and parse() do.
        return cls(tuple(sorted(requirements, key=lambda r: r.key)))

    @classmethod
    def from_set(cls, labels: dict[str, str] | None) -> "LabelSelector":
        """``k1=v1,k2=v2``: what a Service's ``spec.selector`` map means."""
        return cls.of(Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items())

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (upstream ``Empty()``)."""
        return not self.select_nothing and not self.requirements

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.select_nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value ``key`` must have, if the selector pins it (used to narrow lists)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(select_nothing=True)


# --- the label selector parser (upstream labels.Parse) --------------------------------------

_END, _CLOSE, _COMMA, _NOT, _DOUBLE_EQ, _EQ, _GT, _ID, _IN, _LT, _NOT_EQ, _NOT_IN, _OPEN = range(13)

_TOKENS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DOUBLE_EQ, "=": _EQ, ">": _GT, "in": _IN,
           "<": _LT, "!=": _NOT_EQ, "notin": _NOT_IN, "(": _OPEN}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")


def _lex(text: str) -> list[tuple[int, str]]:
    """Split a selector into (token, literal) pairs, ending with the end-of-string token."""
    items: list[tuple[int, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_END, ""))
            return items
        if text[pos] in _SPECIAL:
            # Longest run of symbols that is still an operator: "!=" beats "!".
            end = pos + 1
            while end < n and text[end] in _SPECIAL and text[pos:end + 1] in _TOKENS:
                end += 1
            literal = text[pos:end]
        else:
            end = pos
            while end < n and text[end] not in _SPECIAL and text[end] not in _WHITESPACE:
                end += 1
            literal = text[pos:end]
        items.append((_TOKENS.get(literal, _ID), literal))
        pos = end


class _Parser:
    """A recursive-descent parser over the scanned tokens, one requirement at a time."""

    def __init__(self, text: str):
        self.items = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        # In a value position "in" and "notin" are plain words: "x in (in)" is legal.
        if values and tok in (_IN, _NOT_IN):
            tok = _ID
        return tok, lit

    def take(self, values: bool = True) -> tuple[int, str]:
        item = self.peek(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok == _END:
                return reqs
            if tok not in (_ID, _NOT):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except ValueError as err:
                raise ValueError(f"unable to parse requirement: {err}") from None
            tok, lit = self.take()
            if tok == _END:
                return reqs
            if tok != _COMMA:
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.peek()
            if tok not in (_ID, _NOT):
                raise ValueError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        negated = False
        tok, key = self.take()
        if tok == _NOT:
            negated = True
            tok, key = self.take()
        if tok != _ID:
            raise ValueError(f"found '{key}', expected: identifier")
        key_errors = is_qualified_name(key)
        if key_errors:
            # Upstream validates the key with a nil field path, which prints as "<nil>".
            raise ValueError(str(invalid_value("<nil>", key, "; ".join(key_errors))))
        # "!key" is complete by itself; whatever follows must be "," or the end.
        if negated:
            return Requirement.new(key, DOES_NOT_EXIST)
        if self.peek()[0] in (_END, _COMMA):
            return Requirement.new(key, EXISTS)
        operator = self.operator()
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return Requirement.new(key, operator, sorted(set(values)))

    def operator(self) -> str:
        tok, lit = self.take(values=False)
        ops = {_IN: IN, _EQ: EQUALS, _DOUBLE_EQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
               _NOT_IN: NOT_IN, _NOT_EQ: NOT_EQUALS}
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def value_set(self) -> list[str]:
        tok, lit = self.take()
        if tok != _OPEN:
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == _CLOSE:  # "()" is the set holding the empty string
            self.take()
            return [""]
        if tok not in (_ID, _COMMA):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        tok, _ = self.take()
        if tok != _CLOSE:
            raise ValueError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> list[str]:
        # A comma-separated list whose items may be empty: "(a,,b)" holds "a", "" and "b".
        values: list[str] = []
        while True:
            tok, lit = self.take()
            if tok == _ID:
                values.append(lit)
                nxt, nlit = self.peek()
                if nxt == _CLOSE:
                    return values
                if nxt != _COMMA:
                    raise ValueError(f"found '{nlit}', expected: ',' or ')'")
            elif tok == _COMMA:
                if not values:
                    values.append("")
                nxt, _ = self.peek()
                if nxt == _CLOSE:
                    values.append("")
                    return values
                if nxt == _COMMA:
                    self.take()
                    values.append("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        tok, _ = self.peek()
        if tok in (_END, _COMMA):  # "key=" selects the empty value
            return [""]
        tok, lit = self.take()
        if tok != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        return [lit]


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the string form of a label selector; ``""`` selects everything.

    Raises ValueError with upstream's message, e.g.
    ``unable to parse requirement: found '', expected: identifier``.
    """
    return LabelSelector.of(_Parser(text).parse())


# --- metav1.LabelSelector objects ---------------------------------------------------------

_METAV1_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(spec: dict[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` (upstream ``LabelSelectorAsSelector``).

    ``None`` selects nothing, ``{}`` selects everything; matchLabels and matchExpressions
    are ANDed. Raises ValueError for an invalid selector.
    """
    if spec is None:
        return NOTHING
    match_labels = spec.get("matchLabels") or {}
    expressions = spec.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    reqs = [Requirement.new(k, EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        op = expr.get("operator", "")
        if op not in _METAV1_OPERATORS:
            raise ValueError(f'"{op}" is not a valid label selector operator')
        reqs.append(Requirement.new(expr.get("key", ""), _METAV1_OPERATORS[op], expr.get("values") or []))
    return LabelSelector.of(reqs)


def validate_label_selector(spec: dict[str, Any] | None, path: str) -> list[FieldError]:
    """Field errors for a ``metav1.LabelSelector`` at ``path`` (upstream ``ValidateLabelSelector``)."""
    if spec is None:
        return []
    errs = validate_labels(spec.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(spec.get("matchExpressions") or []):
        errs.extend(_validate_requirement(expr, f"{path}.matchExpressions[{i}]"))
    return errs


def validate_operator_values(op: Any, values: list[Any], path: str, comparisons: bool = False) -> list[FieldError]:
    """Does the requirement at ``path`` have the values its operator needs? ``comparisons``: a node
    selector, whose ``Gt``/``Lt`` take exactly one value (upstream ``ValidateNodeSelectorRequirement``)."""
    if op in ("In", "NotIn"):
        return [] if values else [required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")]
    if op in ("Exists", "DoesNotExist"):
        return [forbidden_field(f"{path}.values", "may not be specified when `operator` is 'Exists' or "
                                "'DoesNotExist'")] if values else []
    if comparisons and op in ("Gt", "Lt"):
        return [] if len(values) == 1 else [
            required(f"{path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'")]
    return [invalid_value(f"{path}.operator", op, "not a valid selector operator")]


def _validate_requirement(expr: dict[str, Any], path: str) -> list[FieldError]:
    values = expr.get("values") or []
    errs = validate_operator_values(expr.get("operator", ""), values, path)
    errs.extend(validate_qualified_name(expr.get("key", ""), f"{path}.key"))
    for i, value in enumerate(values):
        errs.extend(validate_label_value(value, f"{path}.values[{i}]"))
    return errs


def format_label_selector(spec: dict[str, Any] | None) -> str:
    """The selector as ``kubectl describe`` prints it: ``app=nginx,env in (a,b)`` or ``<none>``."""
    try:
        text = str(from_label_selector(spec))
    except ValueError:
        return "<error>"
    return text or "<none>"


# --- field selectors (upstream k8s.io/apimachinery/pkg/fields) ------------------------------

_FIELD_OPERATORS = ("!=", "==", "=")  # "==" before "=" so that "a==b" does not keep an "=" in the value


@dataclass(frozen=True)
class FieldTerm:
    field: str
    value: str
    negated: bool = False

    def matches(self, fields: dict[str, str]) -> bool:
        # A field the object does not have reads as "" (upstream fields.Set.Get).
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of ``field=value`` / ``field!=value`` terms."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: dict[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def fields(self) -> set[str]:
        return {t.field for t in self.terms}

    def requires_exact_match(self, field: str) -> str | None:
        for t in self.terms:
            if t.field == field and not t.negated:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(text: str) -> str:
    """Undo ``\\\\``, ``\\,`` and ``\\=``; a bare ``,`` or ``=`` in a value is an error."""
    out: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            if ch not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Upstream prints the rune with %v, i.e. as its code point number.
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    # Commas split terms unless escaped; the backslash stays for unescape_field_value.
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The field name cannot be escaped, so the first operator found splits the term.
    for i in range(len(term)):
        for op in _FIELD_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse ``a=b,c!=d`` (``==`` means ``=``); ``""`` selects everything."""
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(text)) if text else []:
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(FieldTerm(lhs, unescape_field_value(rhs), negated=(op == "!=")))
    return FieldSelector(tuple(terms))


# --- which fields each resource lets you select on -----------------------------------------

def _get(obj: dict[str, Any], dotted: str, default: Any = "") -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node or node[part] is None:
            return default
        node = node[part]
    return node


def _go_bool(value: Any) -> str:
    return "true" if value else "false"


def _pod_fields(pod: dict[str, Any]) -> dict[str, str]:
    pod_ips = _get(pod, "status.podIPs", [])
    pod_ip = pod_ips[0].get("ip", "") if pod_ips else _get(pod, "status.podIP")
    return {
        "spec.nodeName": _get(pod, "spec.nodeName"),
        "spec.restartPolicy": _get(pod, "spec.restartPolicy"),
        "spec.schedulerName": _get(pod, "spec.schedulerName"),
        "spec.serviceAccountName": _get(pod, "spec.serviceAccountName"),
        "spec.hostNetwork": _go_bool(_get(pod, "spec.hostNetwork", False)),
        "status.phase": _get(pod, "status.phase"),
        "status.podIP": pod_ip,
        "status.nominatedNodeName": _get(pod, "status.nominatedNodeName"),
    }


def _event_fields(event: dict[str, Any]) -> dict[str, str]:
    involved = {f"involvedObject.{k}": _get(event, f"involvedObject.{k}")
                for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    reporting = _get(event, "reportingComponent")
    return {
        **involved,
        "reason": _get(event, "reason"),
        "reportingComponent": reporting,
        # Events from the newer API have no source.component; upstream falls back.
        "source": _get(event, "source.component") or reporting,
        "type": _get(event, "type"),
    }


_SPECIFIC_FIELDS = {
    "pods": _pod_fields,
    "events": _event_fields,
    "nodes": lambda o: {"spec.unschedulable": _go_bool(_get(o, "spec.unschedulable", False))},
    "namespaces": lambda o: {"status.phase": _get(o, "status.phase")},
    "secrets": lambda o: {"type": _get(o, "type")},
    "services": lambda o: {"spec.clusterIP": _get(o, "spec.clusterIP"), "spec.type": _get(o, "spec.type")},
    "replicasets": lambda o: {"status.replicas": str(_get(o, "status.replicas", 0))},
    "replicationcontrollers": lambda o: {"status.replicas": str(_get(o, "status.replicas", 0))},
    "jobs": lambda o: {"status.successful": str(_get(o, "status.successful", 0))},
    "certificatesigningrequests": lambda o: {"spec.signerName": _get(o, "spec.signerName")},
}

# Resources whose API version registers its own field-label conversion; the others accept
# only metadata.name and metadata.namespace, and say so in a different message.
_CONVERTED = {"pods", "events", "nodes", "namespaces", "secrets", "services", "replicasets",
              "replicationcontrollers", "jobs", "certificatesigningrequests"}

# Old clients said spec.host for the node a pod runs on.
_FIELD_ALIASES = {"pods": {"spec.host": "spec.nodeName"}}


def _namespaced(plural: str) -> bool:
    for res in resources.RESOURCES:
        if res.plural == plural:
            return res.namespaced
    return True


def object_fields(resource_plural: str, obj: dict[str, Any]) -> dict[str, str]:
    """The selectable fields of ``obj`` (a ``resource_plural`` object), values as strings."""
    fields = {"metadata.name": _get(obj, "metadata.name")}
    if _namespaced(resource_plural):
        fields["metadata.namespace"] = _get(obj, "metadata.namespace")
    specific = _SPECIFIC_FIELDS.get(resource_plural)
    if specific is not None:
        fields.update({k: str(v) for k, v in specific(obj).items()})
    return fields


def supported_fields(resource_plural: str) -> list[str]:
    """The field names ``--field-selector`` accepts for a resource."""
    names = ["metadata.name"]
    if resource_plural not in _CONVERTED or _namespaced(resource_plural):
        names.append("metadata.namespace")
    if resource_plural in _SPECIFIC_FIELDS:
        names.extend(_SPECIFIC_FIELDS[resource_plural]({}).keys())
    return names


def check_field_selector(resource_plural: str, selector: FieldSelector) -> FieldSelector:
    """Check each field against what the resource offers; return the selector with legacy
    names translated (``spec.host`` -> ``spec.nodeName``). Raises ValueError otherwise:
    ``field label not supported: x`` or, for resources with only the default fields,
    ``"x" is not a known field selector: only "metadata.name", "metadata.namespace"``."""
    allowed = set(supported_fields(resource_plural))
    aliases = _FIELD_ALIASES.get(resource_plural, {})
    terms = []
    for term in selector.terms:
        name = aliases.get(term.field, term.field)
        if name not in allowed:
            if resource_plural in _CONVERTED:
                raise ValueError(f"field label not supported: {term.field}")
            raise ValueError(f'"{term.field}" is not a known field selector: '
                             f'only "metadata.name", "metadata.namespace"')
        terms.append(FieldTerm(name, term.value, term.negated))
    return FieldSelector(tuple(terms))

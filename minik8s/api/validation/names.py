"""Names: what a Kubernetes name, port name or data key may look like.

Most strings that end up in a URL, a DNS record or a file name are checked
against a small family of formats from ``k8s.io/apimachinery/pkg/util/validation``:
DNS-1123 subdomains (most object names), DNS-1123 labels (namespaces, container
and volume names), DNS-1035 labels (Service names, which must start with a
letter), path segments (RBAC names), IANA service names (named ports) and config
keys (the keys of ConfigMaps and Secrets). Each check returns the list of reasons
a value fails, worded as upstream words them, so a caller turns each reason into
one field error.

Interface:
    is_dns1123_subdomain(value) -> list[str]   # and is_dns1123_label, is_dns1035_label
    is_path_segment(value) -> list[str]
    is_port_name(value) -> list[str]
    is_config_key(value) -> list[str]
    regex_error(msg, fmt, *examples) -> str    # upstream RegexError: message, examples, regex

Invariants: a check never raises and returns ``[]`` exactly when the value is
valid; lengths are counted in bytes of UTF-8, as Go counts them.

Taught in chapter 3 (the API: why ``My_Pod`` is refused) and chapter 6
(Namespaces: names are DNS labels).
"""

from __future__ import annotations

import re

# --- formats and messages of k8s.io/apimachinery/pkg/util/validation ------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                     "an alphabetic character, and end with an alphanumeric character")
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
PERCENT_FMT = "[0-9]+%"
PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
PORT_RANGE_MSG = "must be between 1 and 65535, inclusive"

_LABEL_RE = re.compile(DNS1123_LABEL_FMT)
_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1035_RE = re.compile(DNS1035_LABEL_FMT)
_CONFIG_KEY_RE = re.compile(CONFIG_KEY_FMT)
_PERCENT_RE = re.compile(PERCENT_FMT)


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream ``RegexError``; every example keeps its trailing comma, hence ``'a',  or 'b'``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    return f"{msg} (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))  # Go measures strings in bytes


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _size(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_RE.fullmatch(value):
        errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _size(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _size(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_RE.fullmatch(value):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME: what a named port may be called (``http``, ``metrics``)."""
    errs = []
    if len(port) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_config_key(value: str) -> list[str]:
    errs = []
    if _size(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _qualified_name(value: str) -> list[str]:
    from minik8s.api.selectors import is_qualified_name  # written alongside this module
    return is_qualified_name(value)

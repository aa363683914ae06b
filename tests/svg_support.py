"""Reading the pictures of minik8s.viz back in tests: their elements, their texts, the box behind a label."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from minik8s import viz

SVG_NS = "{http://www.w3.org/2000/svg}"


def elements(svg: viz.SVG) -> list[ET.Element]:
    return list(ET.fromstring(str(svg)))


def texts(svg: viz.SVG) -> list[str]:
    return [e.text or "" for e in elements(svg) if e.tag == f"{SVG_NS}text"]


def box_behind(svg: viz.SVG, label: str) -> ET.Element:
    """The rectangle drawn just before the text ``label``."""
    last = None
    for element in elements(svg):
        if element.tag == f"{SVG_NS}rect":
            last = element
        if element.tag == f"{SVG_NS}text" and element.text == label:
            assert last is not None
            return last
    raise AssertionError(f"no text {label!r}")

"""The CRI log format (``minik8s.kubelet.logs``): records as containerd writes them, read back as the kubelet does."""

from __future__ import annotations

from minik8s.kubelet import logs
from minik8s.kubelet.logs import LogEntry

# Written by containerd on a node (Go's RFC3339Nano drops the fraction's trailing zeros).
CONTAINERD_FILE = (b"2024-05-01T10:00:00.123456789Z stdout F hello\n"
                   b"2024-05-01T10:00:01.5Z stdout P Pass\n"
                   b"2024-05-01T10:00:01.6Z stderr F warning: no tty\n"
                   b"2024-05-01T10:00:02Z stdout P word: \n"
                   b"not a record\n"
                   b"2024-05-01T10:00:03.000000001Z stdout F \n"
                   b"2024-05-01T10:00:04Z stdout F half-writ")   # the runtime is still writing this one


def test_pieces_of_a_line_join_under_the_first_piece_time_and_stream() -> None:
    assert logs.parse(CONTAINERD_FILE) == [
        LogEntry(1714557600_123456789, "stdout", "hello\n"),
        LogEntry(1714557601_500000000, "stdout", "Password: \n"),
        LogEntry(1714557601_600000000, "stderr", "warning: no tty\n"),
    ]


def test_kubelet_output_is_fixed_width_rfc3339nano_and_tail_comes_before_since() -> None:
    entries = logs.parse(CONTAINERD_FILE)
    assert logs.read(entries, timestamps=True) == ("2024-05-01T10:00:00.123456789Z hello\n"
                                                   "2024-05-01T10:00:01.500000000Z Password: \n"
                                                   "2024-05-01T10:00:01.600000000Z warning: no tty\n")
    assert logs.read(entries, since_ns=1714557601_500000000) == "Password: \nwarning: no tty\n"
    assert logs.read(entries, tail_lines=1, since_ns=1714557601_500000000) == "warning: no tty\n"
    assert logs.read(entries, tail_lines=2, since_ns=1714557601_600000001) == ""
    assert logs.read(entries, tail_lines=0) == ""


def test_records_round_trip_and_an_unfinished_line_has_no_newline() -> None:
    written = (logs.record(1735689600_000000000, "stdout", "a") + logs.record(1735689600_250000000, "stderr", "b")
               + logs.record(1735689601_000000000, "stdout", "no newline", partial=True))
    assert written == (b"2025-01-01T00:00:00Z stdout F a\n2025-01-01T00:00:00.25Z stderr F b\n"
                       b"2025-01-01T00:00:01Z stdout P no newline\n")
    assert "".join(e.text for e in logs.parse(written)) == "a\nb\nno newline"
    assert logs.nanoseconds(1735689600.25) == 1735689600_250000000

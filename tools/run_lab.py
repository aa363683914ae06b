"""Re-run lab notebooks in place, as CI's nbval will, and keep their outputs tidy.

Usage: python tools/run_lab.py labs/07-deployments.ipynb [labs/solutions/07-deployments.ipynb ...]

Executes each notebook with nbconvert (the kernel sees the checkout first on its path), then
joins consecutive stream outputs of one cell (a print that flushed in pieces), so that the
committed output reads as the reader sees it and diffs show only what changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def coalesce(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        outputs = cell.get("outputs") or []
        joined: list = []
        for output in outputs:
            previous = joined[-1] if joined else None
            if (output.get("output_type") == "stream" and previous is not None
                    and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
                previous["text"] = "".join(previous["text"]) + "".join(output["text"])
            else:
                joined.append(output)
        if outputs:
            cell["outputs"] = joined
    nbformat.write(notebook, path)


def main(paths: list[str]) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for name in paths:
        path = Path(name)
        done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                               "--inplace", str(path)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-3000:])
            return done.returncode
        coalesce(path)
        print(f"ran {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

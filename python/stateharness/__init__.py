"""stateharness from Python: the binary installed with this package, and
:func:`conform`, which runs its conformance suite on a flujo ``StateBackend``
class (``"module:Class"``) with the current Python.

The pytest plugin (:mod:`stateharness.pytest_plugin`) builds on these."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

__all__ = ["binary", "conform", "ConformResult"]


def binary() -> str:
    """The stateharness executable: the one this package installed (in the
    environment's scripts directory), else the first on PATH."""
    name = "stateharness.exe" if os.name == "nt" else "stateharness"
    installed = os.path.join(sysconfig.get_path("scripts"), name)
    if os.path.isfile(installed):
        return installed
    found = shutil.which("stateharness")
    if found is None:
        raise FileNotFoundError("the stateharness executable is not installed (pip install stateharness)")
    return found


@dataclass
class ConformResult:
    """What a ``stateharness conform`` run gave: its exit status (0 passed,
    1 a check failed, 2 the run could not be done), its console output and
    its JSON report (``None`` when it wrote none)."""

    status: int
    output: str
    report: Optional[dict] = None
    args: Sequence[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == 0


def conform(
    backend: str,
    kwargs: Optional[Mapping[str, Any]] = None,
    *,
    capabilities: Sequence[str] = (),
    types: Optional[str] = None,
    python: Optional[str] = None,
    args: Sequence[str] = (),
) -> ConformResult:
    """Runs the conformance suite on ``backend``: ``"module:Class"`` (a flujo
    ``StateBackend`` class, run with ``python``, default this interpreter)
    or any stateharness backend URL. ``kwargs`` are the class's constructor
    arguments: they reach it through an environment variable, never the
    command line, so secrets stay out of process listings and reports."""
    is_class = "://" not in backend and not backend.startswith(("exec:", "py:"))
    command = [binary(), "conform", "--backend", f"py:{backend}" if is_class else backend]
    env = dict(os.environ)
    if is_class or backend.startswith("py:"):
        command += ["--python", python or sys.executable]
        if kwargs:
            env["STATEHARNESS_KWARGS"] = json.dumps(dict(kwargs))
            command += ["--kwargs-env", "STATEHARNESS_KWARGS"]
        if capabilities:
            command += ["--capabilities", ",".join(capabilities)]
        if types:
            command += ["--types", types]
    with tempfile.TemporaryDirectory(prefix="stateharness-") as scratch:
        report_path = os.path.join(scratch, "report.json")
        command += ["--report", report_path, *args]
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        report = None
        if os.path.exists(report_path):
            with open(report_path, encoding="utf-8") as f:
                report = json.load(f)
    return ConformResult(done.returncode, done.stdout, report, command)

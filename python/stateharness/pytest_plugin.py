"""pytest plugin of stateharness (registered by the package's ``pytest11``
entry point).

One test for a whole backend, with the ``stateharness`` fixture::

    def test_my_backend_conforms(stateharness):
        stateharness.conform("mymodule:MyBackend", kwargs={"path": "/tmp/x"})

fails with the suite's findings when any check fails, and with the reason
when the suite could not run (a backend that cannot be built or reached)."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pytest

from . import ConformResult, conform


def _failures(result: ConformResult) -> str:
    """The part of the console report a reader needs: every line of a failed
    check and its findings, then the summary."""
    lines = result.output.splitlines()
    kept, in_failure = [], False
    for line in lines:
        if line.startswith(("FAIL", "ERROR", "FAULT")):
            in_failure = True
        elif line[:1].isalpha():
            in_failure = False
        if in_failure:
            kept.append(line)
    summary = lines[-3:] if lines else []
    return "\n".join(kept + [""] + summary) if kept else result.output


class Harness:
    """The ``stateharness`` fixture's object."""

    def conform(
        self,
        backend: str,
        kwargs: Optional[Mapping[str, Any]] = None,
        *,
        capabilities: Sequence[str] = (),
        types: Optional[str] = None,
        python: Optional[str] = None,
        args: Sequence[str] = (),
    ) -> ConformResult:
        """Runs the suite (see :func:`stateharness.conform`) and fails the
        test unless every check passed."""
        result = conform(backend, kwargs, capabilities=capabilities, types=types, python=python, args=args)
        if result.status == 1:
            pytest.fail(f"{backend} does not conform:\n{_failures(result)}", pytrace=False)
        if result.status != 0:
            pytest.fail(f"stateharness could not run the suite on {backend} (exit {result.status}):\n{result.output}", pytrace=False)
        return result


@pytest.fixture
def stateharness() -> Harness:
    """Runs the stateharness conformance suite: ``stateharness.conform("module:Class", kwargs={...})``."""
    return Harness()

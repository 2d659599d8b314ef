"""pytest plugin of stateharness (registered by the package's ``pytest11``
entry point).

One test for a whole backend, with the ``stateharness`` fixture::

    def test_my_backend_conforms(stateharness):
        stateharness.conform("mymodule:MyBackend", kwargs={"path": "/tmp/x"})

fails with the suite's findings when any check fails, and with the reason
when the suite could not run (a backend that cannot be built or reached).

Or one pytest item per check, for pytest's reports, ``-k`` and JUnit::

    pytest --stateharness mymodule:MyBackend --stateharness-kwargs-env MY_KWARGS -k "basics"

(``-k`` is passed on to the suite: only the selected checks run)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Mapping, Optional, Sequence

import pytest

from . import ConformResult, binary, conform


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


# --- `pytest --stateharness MODULE:CLASS`: one pytest item per check -------
#
# The checks are listed by the binary (`conform --list-checks`); after
# pytest's own selection (`-k`, `--deselect`), the suite runs once with
# `--only` for exactly the selected checks, and each item reports its own
# check: passed, failed with its findings, or skipped with the reason.


def pytest_addoption(parser):
    group = parser.getgroup("stateharness", "stateharness conformance suite")
    group.addoption("--stateharness", metavar="MODULE:CLASS", help="run the conformance suite on this flujo backend class, one item per check")
    group.addoption("--stateharness-kwargs-env", metavar="VAR", help="the class's constructor arguments: a JSON object in the environment variable VAR")
    group.addoption("--stateharness-capabilities", metavar="LIST", help="what the backend promises: concurrent, persistent")
    group.addoption("--stateharness-types", metavar="MODULE", help="a module of your own types (STATEHARNESS_TYPES)")
    group.addoption("--stateharness-arg", action="append", default=[], metavar="ARG", help="an extra argument for `stateharness conform` (repeatable)")


def _launch_args(config):
    """The ``conform`` arguments the ``--stateharness-*`` options give."""
    opt = config.getoption
    args = []
    for flag, value in (
        ("--kwargs-env", opt("stateharness_kwargs_env")),
        ("--capabilities", opt("stateharness_capabilities")),
        ("--types", opt("stateharness_types")),
    ):
        if value:
            args += [flag, value]
    return args + list(opt("stateharness_arg"))


class _SuiteRun:
    """The one suite run the check items share, made on first use."""

    def __init__(self, config, labels):
        self.config = config
        self.labels = labels
        self.checks = None
        self.failure = None

    def result(self, label):
        if self.checks is None and self.failure is None:
            only = [arg for label in self.labels for arg in ("--only", label)]
            result = conform(self.config.getoption("stateharness"), args=_launch_args(self.config) + only, python=sys.executable)
            if result.report is None:
                self.failure = f"stateharness could not run the suite (exit {result.status}):\n{result.output}"
            else:
                self.checks = {f"{c['group']}: {c['name']}": c for c in result.report["checks"]}
        if self.failure is not None:
            pytest.fail(self.failure, pytrace=False)
        return self.checks.get(label)


class CheckItem(pytest.Item):
    """One check of the suite, as a pytest item."""

    def __init__(self, *, label, **kwargs):
        super().__init__(**kwargs)
        self.label = label

    def runtest(self):
        check = self.config.stash[_RUN].result(self.label)
        if check is None:
            pytest.fail(f"the suite did not report {self.label!r}", pytrace=False)
        if check["status"] == "skipped":
            pytest.skip(check["skip_reason"] or "skipped")
        if check["status"] == "fault":
            pytest.fail(f"connection lost during {self.label}: {check['fault']}", pytrace=False)
        if check["status"] == "failed":
            cause = f"same cause as {check['same_cause_as']}\n" if check.get("same_cause_as") else ""
            replay = f"\nreplay: {check['replay']}" if check.get("replay") else ""
            pytest.fail(cause + "\n".join(check["details"]) + replay, pytrace=False)

    def reportinfo(self):
        return self.path, None, f"stateharness: {self.label}"


class SuiteCollector(pytest.Collector):
    """The checks of the suite on the backend named by ``--stateharness``."""

    def collect(self):
        backend = self.config.getoption("stateharness")
        listing = subprocess.run(
            [binary(), "conform", "--backend", f"py:{backend}", "--python", sys.executable, *_launch_args(self.config), "--list-checks"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if listing.returncode != 0:
            raise pytest.UsageError(f"stateharness --list-checks on {backend} failed (exit {listing.returncode}):\n{listing.stdout}")
        return [CheckItem.from_parent(self, name=label, label=label) for label in listing.stdout.splitlines() if label.strip()]


_RUN = pytest.StashKey[_SuiteRun]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Adds the check items before pytest's own selection (-k) sees the list."""
    if config.getoption("stateharness"):
        # No "[" in the name: JUnit would take the rest for parameters.
        collector = SuiteCollector.from_parent(session, name="stateharness")
        items.extend(collector.collect())


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """The suite runs only the checks left after selection."""
    config = session.config
    if config.getoption("stateharness"):
        labels = [item.label for item in session.items if isinstance(item, CheckItem)]
        config.stash[_RUN] = _SuiteRun(config, labels)

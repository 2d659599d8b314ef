"""What a flujo team adds to its own tests: the stateharness fixture of the
pip-installed plugin, on flujo's own InMemoryBackend (ci/wheel.sh runs it)."""


def test_flujo_in_memory_backend_conforms(stateharness):
    result = stateharness.conform("flujo.state.backends.memory:InMemoryBackend", args=["--cases", "8"])
    assert result.report["checks"], "the suite ran checks"


def test_a_backend_that_cannot_be_built_fails_with_the_reason(stateharness, fails_with):
    fails_with(lambda: stateharness.conform("flujo.state.backends.memory:NoSuchBackend"), "could not run the suite")

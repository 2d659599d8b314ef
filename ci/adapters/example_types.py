"""An example ``--types`` module for ci/adapters/flujo_adapter.py.

A team whose pipeline context holds its own types tells the adapter about
them with a module like this one:

    python3 ci/adapters/flujo_adapter.py flujo.state.backends.memory:InMemoryBackend \\
        --types example_types

(``example_types`` is found because the adapter puts its own directory on
``sys.path``; your module is found from the current directory or from
PYTHONPATH, e.g. ``--types mypkg.state_types``.)

The convention:

- importing the module registers its flujo custom serializers and
  deserializers (``register_custom_serializer`` /
  ``register_custom_deserializer``), exactly as the pipeline does;
- ``STATEHARNESS_TYPES = {"Name": cls, ...}`` names the types: typed JSON
  ``$custom`` (and ``$dataclass``, ``$model``, ``$enum``) values with that
  ``type`` are built as ``cls(**fields)``, and a value of ``cls`` coming back
  from the backend is answered as ``{"$custom": {"type": "Name", "fields":
  <what the registered serializer returns>}}``;
- ``STATEHARNESS_SAMPLES = {"Name": [instances]}`` (optional) are announced
  in ``hello``'s ``custom_types`` so that the harness puts them in the states
  it saves. In typed JSON a sample below reads
  ``{"$custom": {"type": "Temperature", "fields": {"celsius": 21.5, "scale": "C"}}}``.

A load with the type hint ``{"/pipeline_context/room": "Temperature"}``
gives the value back as a ``Temperature`` (through the registered
deserializer); without it flujo hands back the plain dict.
"""

from flujo.utils.serialization import register_custom_deserializer, register_custom_serializer


class Temperature:
    """A temperature kept in degrees Celsius, with the scale it is shown in."""

    def __init__(self, celsius: float, scale: str = "C"):
        self.celsius = celsius
        self.scale = scale

    def __eq__(self, other):
        return isinstance(other, Temperature) and (self.celsius, self.scale) == (other.celsius, other.scale)

    def __repr__(self):
        return f"Temperature({self.celsius!r}, {self.scale!r})"


register_custom_serializer(Temperature, lambda t: {"celsius": t.celsius, "scale": t.scale})
register_custom_deserializer(Temperature, lambda d: Temperature(d["celsius"], d["scale"]))

STATEHARNESS_TYPES = {"Temperature": Temperature}
STATEHARNESS_SAMPLES = {
    "Temperature": [
        Temperature(21.5, "C"),
        Temperature(-40.0, "F"),
        Temperature(0.0, "K"),
        Temperature(float("nan"), "C"),
    ],
}

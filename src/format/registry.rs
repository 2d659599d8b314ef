//! The registry of user types: custom serializers and deserializers (flujo's
//! `register_custom_serializer` / `register_custom_deserializer`), class
//! hierarchies for their lookup rules, and enum definitions.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::value::{Dict, EnumBase, Instance, Value};

use super::flujo::FlujoVersion;
use super::python::PythonVersion;

/// A custom serializer: the value of a registered type -> a value that the
/// serialize rules then apply to again.
pub type SerializeFn = Arc<dyn Fn(&Value) -> Result<Value, String> + Send + Sync>;

/// A custom deserializer: a plain dict -> the value of the target type.
pub type DeserializeFn = Arc<dyn Fn(&Value) -> Result<Value, String> + Send + Sync>;

/// The classes that plain JSON values are instances of.
const JSON_KIND_CLASSES: &[&str] = &["NoneType", "bool", "int", "float", "str", "list", "dict", "object"];

/// An enum class: its base and its members (name, value).
#[derive(Clone, Debug)]
pub struct EnumDef {
    /// What the class derives from.
    pub base: EnumBase,
    /// Member names and values, in definition order.
    pub members: Vec<(String, Value)>,
}

/// User types and their (de)serializers, and the Python whose `repr`
/// stringifies dict keys (see [`PythonVersion`]).
///
/// Lookup follows flujo: the exact type first, then the first registered
/// type, in registration order, that the value is an instance of (its
/// built-in bases and the bases declared with [`TypeRegistry::declare_bases`]).
#[derive(Clone, Default)]
pub struct TypeRegistry {
    serializers: Vec<(String, SerializeFn)>,
    /// Some serializer is registered for a JSON kind (or a base of one), so
    /// plain JSON values must be looked up too.
    serializes_json_kinds: bool,
    deserializers: Vec<(String, DeserializeFn)>,
    bases: HashMap<String, Vec<String>>,
    enums: HashMap<String, EnumDef>,
    python: PythonVersion,
    flujo: FlujoVersion,
}

impl fmt::Debug for TypeRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeRegistry")
            .field("serializers", &self.serializers.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("deserializers", &self.deserializers.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("bases", &self.bases)
            .field("enums", &self.enums.keys().collect::<Vec<_>>())
            .field("python", &self.python)
            .field("flujo", &self.flujo)
            .finish()
    }
}

impl TypeRegistry {
    /// A registry with nothing registered: flujo with no custom types.
    pub fn empty() -> TypeRegistry {
        TypeRegistry::default()
    }

    /// The standard test types of docs/typed-json.md: `Color` (Enum), `Level`
    /// (IntEnum) and `Money` (custom type with serializer and deserializer).
    /// `Point` and `User` need nothing registered.
    pub fn standard() -> TypeRegistry {
        let mut registry = TypeRegistry::empty();
        registry.declare_enum("Color", EnumBase::Plain, [("RED", Value::from(1)), ("GREEN", Value::from("green"))]);
        registry.declare_enum("Level", EnumBase::Int, [("LOW", Value::from(1)), ("HIGH", Value::from(2))]);
        registry.register_fields_type("Money");
        registry
    }

    /// The Python flujo runs on (default: 3.11, the oldest flujo 0.4 supports).
    pub(crate) fn python(&self) -> PythonVersion {
        self.python
    }

    /// Sets the Python flujo runs on.
    pub(crate) fn set_python(&mut self, python: PythonVersion) {
        self.python = python;
    }

    /// This registry for another Python.
    pub fn with_python(mut self, python: PythonVersion) -> TypeRegistry {
        self.python = python;
        self
    }

    /// The flujo whose format the engine follows (default: 0.4).
    pub(crate) fn flujo(&self) -> FlujoVersion {
        self.flujo
    }

    /// Models another flujo (the Python stays as it is).
    pub(crate) fn set_flujo(&mut self, flujo: FlujoVersion) {
        self.flujo = flujo;
    }

    /// This registry for another flujo (the Python stays as it is: choose it
    /// with `PythonChoice::resolve_for`).
    pub fn with_flujo(mut self, flujo: FlujoVersion) -> TypeRegistry {
        self.flujo = flujo;
        self
    }

    /// Registers `type_name` as a custom type whose serializer returns its
    /// fields as a dict and whose deserializer builds it back from that
    /// dict (what the standard `Money` type does).
    pub fn register_fields_type(&mut self, type_name: &str) {
        self.register_serializer(type_name, serialize_fields);
        let owned = type_name.to_owned();
        self.register_deserializer(type_name, move |value| match value {
            Value::Dict(fields) => Ok(Value::Custom(Box::new(Instance { type_name: owned.clone(), fields: fields.clone() }))),
            other => Err(format!("expected a dict, got {}", other.type_name())),
        });
    }

    /// Registers a Rust serde type as the custom type `type_name`: a value
    /// of it is a [`Value::Custom`] whose fields are the type's serde form;
    /// the deserializer checks that a dict is a valid `T` before accepting it.
    pub fn register_serde<T>(&mut self, type_name: &str)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        self.register_serializer(type_name, serialize_fields);
        let owned = type_name.to_owned();
        self.register_deserializer(type_name, move |value| {
            let fields = crate::format::serde_bridge::roundtrip_through::<T>(value)?;
            Ok(Value::Custom(Box::new(Instance { type_name: owned.clone(), fields })))
        });
    }

    /// `register_custom_serializer(type, fn)`; a later registration of the
    /// same type replaces the earlier one.
    pub fn register_serializer(&mut self, type_name: &str, serializer: impl Fn(&Value) -> Result<Value, String> + Send + Sync + 'static) {
        self.serializers.retain(|(name, _)| name != type_name);
        self.serializers.push((type_name.to_owned(), Arc::new(serializer)));
        self.serializes_json_kinds = self.serializers.iter().any(|(name, _)| JSON_KIND_CLASSES.contains(&name.as_str()));
    }

    /// `register_custom_deserializer(type, fn)`.
    pub fn register_deserializer(&mut self, type_name: &str, deserializer: impl Fn(&Value) -> Result<Value, String> + Send + Sync + 'static) {
        self.deserializers.retain(|(name, _)| name != type_name);
        self.deserializers.push((type_name.to_owned(), Arc::new(deserializer)));
    }

    /// Declares that `type_name` derives from `bases` (nearest first), so
    /// that a serializer registered for a base applies to it.
    pub fn declare_bases<S: Into<String>>(&mut self, type_name: &str, bases: impl IntoIterator<Item = S>) {
        self.bases.insert(type_name.to_owned(), bases.into_iter().map(Into::into).collect());
    }

    /// Declares an enum class, so that typed JSON of its members knows its
    /// base (an `IntEnum` member stays an int) and member names.
    pub fn declare_enum<S: Into<String>>(&mut self, type_name: &str, base: EnumBase, members: impl IntoIterator<Item = (S, Value)>) {
        let members = members.into_iter().map(|(name, value)| (name.into(), value)).collect();
        self.enums.insert(type_name.to_owned(), EnumDef { base, members });
    }

    /// The declared enum class `type_name`.
    pub(crate) fn enum_def(&self, type_name: &str) -> Option<&EnumDef> {
        self.enums.get(type_name)
    }

    /// The names of the types with a custom serializer, in registration order.
    pub(crate) fn custom_type_names(&self) -> impl Iterator<Item = &str> {
        self.serializers.iter().map(|(name, _)| name.as_str())
    }

    /// True when `type_name` is `candidate` or derives from it.
    fn is_subclass(&self, type_name: &str, builtin_bases: &[&str], candidate: &str) -> bool {
        type_name == candidate
            || builtin_bases.contains(&candidate)
            || !self.bases.is_empty() && self.bases.get(type_name).is_some_and(|bases| bases.iter().any(|b| self.is_subclass(b, &[], candidate)))
    }

    /// The serializer that applies to `value`, with the type it was
    /// registered for.
    pub(crate) fn serializer_for(&self, value: &Value) -> Option<(&str, &SerializeFn)> {
        let json_kind = matches!(value, Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::List(_) | Value::Dict(_));
        if self.serializers.is_empty() || (json_kind && !self.serializes_json_kinds) {
            return None;
        }
        let type_name = value.type_name();
        let exact = self.serializers.iter().find(|(name, _)| name == type_name);
        exact
            .or_else(|| {
                let bases = value.builtin_bases();
                self.serializers.iter().find(|(name, _)| self.is_subclass(type_name, bases, name))
            })
            .map(|(name, f)| (name.as_str(), f))
    }

    /// The deserializer for the target type `type_name`: the exact type,
    /// then the first registered base type.
    pub(crate) fn deserializer_for(&self, type_name: &str) -> Option<&DeserializeFn> {
        let exact = self.deserializers.iter().find(|(name, _)| name == type_name);
        exact.or_else(|| self.deserializers.iter().find(|(name, _)| self.is_subclass(type_name, &[], name))).map(|(_, f)| f)
    }
}

/// The serializer of a custom type whose serialized form is its fields.
fn serialize_fields(value: &Value) -> Result<Value, String> {
    match value {
        Value::Custom(inst) => Ok(Value::Dict(inst.fields.clone())),
        other => Err(format!("expected a custom value, got {}", other.type_name())),
    }
}

/// A dict value from `(key, value)` string pairs, for building fields.
pub fn fields<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Dict {
    pairs.into_iter().map(|(k, v)| (Value::from(k), v)).collect()
}

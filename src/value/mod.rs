//! The dynamic state value: every kind of Python value a flujo state holds
//! (`docs/typed-json.md`), with Python's type names and equality.

mod eq;
mod int;
mod surrogate;
mod time;

pub(crate) use eq::{KeyLookup, distinct_set_elements, same_dict_key};
pub use int::{Int, ParseIntError};
pub use surrogate::SurrogateStr;
pub(crate) use surrogate::cmp_code_points;
pub use time::{Date, DateTime, Time, TimeParseError, UtcOffset};

/// A Python value as a workflow state holds it.
///
/// A Python `str` is a Rust string, or in the rare case that it holds a
/// lone surrogate, a [`SurrogateStr`].
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `None`
    #[default]
    None,
    /// `bool`
    Bool(bool),
    /// `int`, exact at any size
    Int(Int),
    /// `float`, NaN, infinities and `-0.0` included
    Float(f64),
    /// `str`
    Str(String),
    /// `str` holding at least one lone surrogate (`"\ud800"`)
    SurrogateStr(SurrogateStr),
    /// `bytes`
    Bytes(Vec<u8>),
    /// `bytearray` (flujo 0.4 refuses to serialize it)
    ByteArray(Vec<u8>),
    /// `datetime.datetime`, naive or aware
    DateTime(DateTime),
    /// `datetime.date`
    Date(Date),
    /// `datetime.time`, naive or aware
    Time(Time),
    /// `uuid.UUID`
    Uuid(uuid::Uuid),
    /// `decimal.Decimal`, as its `str()` text
    Decimal(String),
    /// `complex`: real and imaginary parts
    Complex(f64, f64),
    /// `list`
    List(Vec<Value>),
    /// `tuple`
    Tuple(Vec<Value>),
    /// `set`, in iteration order
    Set(Vec<Value>),
    /// `frozenset`, in iteration order
    FrozenSet(Vec<Value>),
    /// `dict`, keys of any hashable kind, in insertion order
    Dict(Dict),
    /// An `Enum` member
    Enum(Box<EnumMember>),
    /// A dataclass instance
    Dataclass(Box<Instance>),
    /// A Pydantic model instance
    Model(Box<Instance>),
    /// An instance of a type that has (or should have) a registered custom serializer
    Custom(Box<Instance>),
    /// A function, by its `__name__`
    Callable(String),
}

/// The base class of an enum, which decides how flujo serializes a member:
/// an `IntEnum` (or `str` enum) member *is* an int (a str) and stays itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnumBase {
    /// `class E(Enum)`: serialized as its `.value`.
    Plain,
    /// `class E(IntEnum)`: an int, written as one.
    Int,
    /// `class E(str, Enum)`: a str, written as one.
    Str,
}

/// An enum member: its type, its value and, where known, its name.
#[derive(Clone, Debug)]
pub struct EnumMember {
    /// The enum class name (`Color`).
    pub type_name: String,
    /// The member's `.value`.
    pub value: Value,
    /// What the enum class derives from.
    pub base: EnumBase,
    /// The member's name (`RED`), when known; `str()` of a plain member uses it.
    pub member_name: Option<String>,
}

/// An instance of a user type: its class name and its fields, in order.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The class name (`Point`, `User`, `Money`).
    pub type_name: String,
    /// Field name to value, in definition order.
    pub fields: Dict,
}

/// A Python dict: key/value pairs in insertion order.
///
/// Keys are hashable kinds (None, bool, int, float, str, bytes, tuple,
/// frozenset, datetime, date, time, UUID, Decimal, complex, enum member).
#[derive(Clone, Debug, Default)]
pub struct Dict {
    entries: Vec<(Value, Value)>,
}

impl Dict {
    /// An empty dict.
    pub fn new() -> Dict {
        Dict::default()
    }

    /// An empty dict with room for `n` entries.
    pub fn with_capacity(n: usize) -> Dict {
        Dict { entries: Vec::with_capacity(n) }
    }

    /// Appends an entry without looking for an equal key: for builders that
    /// know their keys are distinct.
    pub fn push(&mut self, key: Value, value: Value) {
        self.entries.push((key, value));
    }

    /// A dict from entries whose keys the caller knows to be distinct.
    pub fn from_distinct(entries: Vec<(Value, Value)>) -> Dict {
        Dict { entries }
    }

    /// Python `d[key] = value`: an equal key (as Python compares keys, so
    /// `1`, `1.0` and `True` are one) keeps its position and takes the new
    /// value.
    pub fn insert(&mut self, key: Value, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| same_dict_key(k, &key)) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The value under the string key `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find_map(|(k, v)| match k {
            Value::Str(s) if s == key => Some(v),
            _ => None,
        })
    }

    /// The value under the string key `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries.iter_mut().find_map(|(k, v)| match k {
            Value::Str(s) if s == key => Some(v),
            _ => None,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Value, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries in insertion order, values mutable.
    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&Value, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// True when every key is a `str`.
    pub(crate) fn has_only_str_keys(&self) -> bool {
        self.entries.iter().all(|(k, _)| matches!(k, Value::Str(_)))
    }
}

impl IntoIterator for Dict {
    type Item = (Value, Value);
    type IntoIter = std::vec::IntoIter<(Value, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(Value, Value)> for Dict {
    /// Collects with Python semantics: a repeated key keeps its first
    /// position and its last value.
    fn from_iter<I: IntoIterator<Item = (Value, Value)>>(iter: I) -> Dict {
        let mut dict = Dict::new();
        for (k, v) in iter {
            dict.insert(k, v);
        }
        dict
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(Int::Small(n))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Dict> for Value {
    fn from(d: Dict) -> Value {
        Value::Dict(d)
    }
}

impl Value {
    /// Python's `type(value).__name__`.
    pub fn type_name(&self) -> &str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) | Value::SurrogateStr(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::ByteArray(_) => "bytearray",
            Value::DateTime(_) => "datetime",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Uuid(_) => "UUID",
            Value::Decimal(_) => "Decimal",
            Value::Complex(..) => "complex",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Dict(_) => "dict",
            Value::Enum(member) => &member.type_name,
            Value::Dataclass(inst) | Value::Model(inst) | Value::Custom(inst) => &inst.type_name,
            Value::Callable(_) => "function",
        }
    }

    /// The built-in classes this value is an instance of besides its own
    /// type, in method resolution order (without `object`), as `isinstance`
    /// sees them. Used to find a custom serializer registered for a base.
    pub(crate) fn builtin_bases(&self) -> &'static [&'static str] {
        match self {
            Value::Bool(_) => &["int"],
            Value::DateTime(_) => &["date"],
            Value::Enum(member) => match member.base {
                EnumBase::Plain => &["Enum"],
                EnumBase::Int => &["IntEnum", "int", "ReprEnum", "Enum"],
                EnumBase::Str => &["str", "Enum"],
            },
            Value::Model(_) => &["BaseModel"],
            _ => &[],
        }
    }

    /// The typed-JSON kind of the value, for reports (`int`, `float`,
    /// `dict`, `enum`, `custom:Money`...).
    pub fn kind(&self) -> String {
        match self {
            Value::Enum(_) => "enum".to_owned(),
            Value::Dataclass(_) => "dataclass".to_owned(),
            Value::Model(_) => "model".to_owned(),
            Value::Custom(inst) => format!("custom:{}", inst.type_name),
            Value::Callable(_) => "callable".to_owned(),
            other => other.type_name().to_owned(),
        }
    }

    /// True for a `str`, lone surrogates or not.
    pub fn is_str(&self) -> bool {
        matches!(self, Value::Str(_) | Value::SurrogateStr(_))
    }

    /// The string, when this is a `str` (that a Rust string can hold).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The dict, when this is a `dict`.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

//! Equality as docs/typed-json.md defines it: same type and equal parts; dict key
//! order and set order do not matter; floats compare bit for bit except that
//! every NaN equals every NaN; `1` never equals `1.0` or `True`.

use std::collections::HashMap;

use num_bigint::BigInt;
use num_traits::FromPrimitive;

use super::{Dict, EnumBase, EnumMember, Instance, Int, Value};

/// A number as Python's dict sees a key: `True`, `1`, `1.0` and `Level.LOW`
/// (an IntEnum member) are one key.
enum Numeric<'a> {
    Int(std::borrow::Cow<'a, Int>),
    Float(f64),
}

fn numeric(value: &Value) -> Option<Numeric<'_>> {
    match value {
        Value::Bool(b) => Some(Numeric::Int(std::borrow::Cow::Owned(Int::Small(i64::from(*b))))),
        Value::Int(n) => Some(Numeric::Int(std::borrow::Cow::Borrowed(n))),
        Value::Float(x) => Some(Numeric::Float(*x)),
        Value::Enum(member) if member.base == EnumBase::Int => numeric(&member.value),
        _ => None,
    }
}

fn int_equals_float(n: &Int, x: f64) -> bool {
    if x.fract() != 0.0 || !x.is_finite() {
        return false;
    }
    match n {
        Int::Small(i) => BigInt::from(*i) == BigInt::from_f64(x).unwrap_or_default(),
        Int::Big(b) => BigInt::from_f64(x).is_some_and(|y| **b == y),
    }
}

/// Whether two values are the same key of a Python dict: equal values, with
/// numbers compared across bool, int and float as Python compares them
/// (`{1: "a", True: "b"}` has one key). A NaN key equals no other key.
pub fn same_dict_key(a: &Value, b: &Value) -> bool {
    match (numeric(a), numeric(b)) {
        (Some(Numeric::Int(x)), Some(Numeric::Int(y))) => x == y,
        (Some(Numeric::Float(x)), Some(Numeric::Float(y))) => x == y,
        (Some(Numeric::Int(n)), Some(Numeric::Float(x))) | (Some(Numeric::Float(x)), Some(Numeric::Int(n))) => int_equals_float(&n, x),
        (Some(_), None) | (None, Some(_)) => false,
        (None, None) => match (a, b) {
            // Tuples and frozensets compare their elements the same way.
            (Value::Tuple(x), Value::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_dict_key(p, q)),
            (Value::FrozenSet(x), Value::FrozenSet(y)) => x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| same_dict_key(p, q))),
            _ => a == b,
        },
    }
}

/// The elements of `items` that a Python set keeps: the first of each group
/// of equal elements ([`same_dict_key`]), in order.
pub fn distinct_set_elements(items: Vec<Value>) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !kept.iter().any(|k| same_dict_key(k, &item)) {
            kept.push(item);
        }
    }
    kept
}

fn float_eq(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn unordered_eq(a: &[Value], b: &[Value]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let found = b.iter().enumerate().position(|(i, y)| !used[i] && x == y);
        found.map(|i| used[i] = true).is_some()
    })
}

/// Above this size, a string-keyed dict is searched through a hash map
/// once entries are found out of order.
const HASHED_DICT_COMPARE: usize = 16;

/// Finds the values of a dict by key for a comparison that looks at each
/// entry once: the entry at the same position first (dicts compared are
/// usually in the same order), then a hash map of the string keys (built
/// on the first miss, for large dicts), then a scan.
pub struct KeyLookup<'a> {
    dict: &'a Dict,
    by_str: std::cell::OnceCell<Option<HashMap<&'a str, &'a Value>>>,
}

impl<'a> KeyLookup<'a> {
    /// A lookup over `dict`.
    pub fn new(dict: &'a Dict) -> KeyLookup<'a> {
        KeyLookup { dict, by_str: std::cell::OnceCell::new() }
    }

    /// The value under a key equal to `key`, expected at `position`.
    pub fn find(&self, key: &Value, position: usize) -> Option<&'a Value> {
        if let Some((_, v)) = self.dict.entries.get(position).filter(|(k, _)| k == key) {
            return Some(v);
        }
        let by_str = self.by_str.get_or_init(|| {
            (self.dict.len() > HASHED_DICT_COMPARE && self.dict.has_only_str_keys())
                .then(|| self.dict.entries.iter().filter_map(|(k, v)| Some((k.as_str()?, v))).collect())
        });
        match (by_str, key.as_str()) {
            (Some(index), Some(key)) => index.get(key).copied(),
            _ => self.dict.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        }
    }
}

impl PartialEq for Dict {
    /// Each value is compared once: a mismatch is final, so the comparison
    /// is linear in the size of the values, however deep.
    fn eq(&self, other: &Dict) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let lookup = KeyLookup::new(other);
        self.iter().enumerate().all(|(i, (k, v))| lookup.find(k, i).is_some_and(|w| v == w))
    }
}

impl PartialEq for EnumMember {
    fn eq(&self, other: &EnumMember) -> bool {
        self.type_name == other.type_name && self.value == other.value
    }
}

impl PartialEq for Instance {
    fn eq(&self, other: &Instance) -> bool {
        self.type_name == other.type_name && self.fields == other.fields
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => float_eq(*a, *b),
            (Str(a), Str(b)) => a == b,
            (SurrogateStr(a), SurrogateStr(b)) => a == b,
            (Bytes(a), Bytes(b)) | (ByteArray(a), ByteArray(b)) => a == b,
            (DateTime(a), DateTime(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Time(a), Time(b)) => a == b,
            (Uuid(a), Uuid(b)) => a == b,
            (Decimal(a), Decimal(b)) => a == b,
            (Complex(r1, i1), Complex(r2, i2)) => float_eq(*r1, *r2) && float_eq(*i1, *i2),
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Set(a), Set(b)) | (FrozenSet(a), FrozenSet(b)) => unordered_eq(a, b),
            (Dict(a), Dict(b)) => a == b,
            (Enum(a), Enum(b)) => a == b,
            (Dataclass(a), Dataclass(b)) | (Model(a), Model(b)) | (Custom(a), Custom(b)) => a == b,
            (Callable(a), Callable(b)) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Int;
    use super::*;

    #[test]
    fn kinds_never_mix() {
        assert_ne!(Value::Int(Int::Small(1)), Value::Float(1.0));
        assert_ne!(Value::Int(Int::Small(1)), Value::Bool(true));
        assert_ne!(Value::List(vec![]), Value::Tuple(vec![]));
        assert_ne!(Value::Float(0.0), Value::Float(-0.0));
        assert_eq!(Value::Float(f64::NAN), Value::Float(-f64::NAN));
    }

    #[test]
    fn dict_order_and_set_order_do_not_matter() {
        let a: Dict = [(Value::from("a"), Value::from(1)), (Value::from("b"), Value::from(2))].into_iter().collect();
        let b: Dict = [(Value::from("b"), Value::from(2)), (Value::from("a"), Value::from(1))].into_iter().collect();
        assert_eq!(Value::Dict(a), Value::Dict(b));
        assert_eq!(Value::Set(vec![Value::from(1), Value::from("1")]), Value::Set(vec![Value::from("1"), Value::from(1)]));
        assert_ne!(Value::Set(vec![Value::from(1), Value::from(1)]), Value::Set(vec![Value::from(1), Value::from(2)]));
    }

    #[test]
    fn dict_keys_merge_numbers_as_python_does() {
        let dict: Dict =
            [(Value::from(1), Value::from("a")), (Value::Bool(true), Value::from("b")), (Value::from(1.0), Value::from("c"))].into_iter().collect();
        assert_eq!(dict.len(), 1);
        assert_eq!(dict.iter().next().map(|(k, v)| (k.clone(), v.clone())), Some((Value::from(1), Value::from("c"))));
        assert!(!same_dict_key(&Value::from(f64::NAN), &Value::from(f64::NAN)));
        assert!(!same_dict_key(&Value::from(1), &Value::from("1")));
    }

    fn nested(depth: usize, leaf: &str) -> Value {
        (0..depth).fold(Value::from(leaf), |inner, i| Value::Dict([(Value::from("n"), inner), (Value::from("i"), Value::from(i as i64))].into_iter().collect()))
    }

    /// Runs `work` on its own thread; fails instead of hanging when it takes
    /// longer than a minute (the bound only keeps CI from hanging).
    fn within_a_minute<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(work());
        });
        receiver.recv_timeout(std::time::Duration::from_secs(60)).expect("the comparison did not finish within 60 s")
    }

    #[test]
    fn a_deep_mismatch_is_found_in_one_pass() {
        let equal = within_a_minute(|| (nested(1000, "leaf") == nested(1000, "leaf"), nested(1000, "leaf") == nested(1000, "LEAF")));
        assert_eq!(equal, (true, false));
        let reordered: Dict = (0..100).rev().map(|i| (Value::Str(format!("k{i}")), Value::from(i))).collect();
        let ordered: Dict = (0..100).map(|i| (Value::Str(format!("k{i}")), Value::from(i))).collect();
        assert_eq!(Value::Dict(reordered.clone()), Value::Dict(ordered.clone()));
        let mut changed = ordered;
        changed.insert(Value::from("k50"), Value::from(-1));
        assert_ne!(Value::Dict(reordered), Value::Dict(changed));
    }
}

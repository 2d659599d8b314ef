//! WorkflowState-shaped states (`docs/storage.md`): a fixed base for
//! the declarative cases, and a proptest strategy for the properties.

use proptest::prelude::*;

use crate::format::{FlujoVersion, fields};
use crate::strategy::{any_datetime, storable_value};
use crate::value::{Date, DateTime, Dict, Int, Time, UtcOffset, Value};

/// The statuses flujo allows.
pub const STATUSES: [&str; 5] = ["running", "paused", "completed", "failed", "cancelled"];

/// 0.4 stamps states with naive local time, 0.6 with aware UTC.
fn timestamp_offset(flujo: FlujoVersion) -> Option<UtcOffset> {
    match flujo {
        FlujoVersion::V0_4 => None,
        FlujoVersion::V0_6 => Some(UtcOffset { seconds: 0, micros: 0 }),
    }
}

fn fixed_datetime(flujo: FlujoVersion, second: u8) -> Value {
    let time = Time { hour: 12, minute: 0, second, micro: 120_000, offset: timestamp_offset(flujo) };
    Value::DateTime(DateTime { date: Date { year: 2025, month: 7, day: 1 }, time })
}

/// The fields flujo 0.6's WorkflowState adds, with the values a fresh
/// foreground run has; none for 0.4.
fn added_fields(flujo: FlujoVersion) -> Vec<(&'static str, Value)> {
    match flujo {
        FlujoVersion::V0_4 => Vec::new(),
        FlujoVersion::V0_6 => vec![
            ("error_message", Value::None),
            ("metadata", Value::Dict(Dict::new())),
            ("is_background_task", Value::Bool(false)),
            ("parent_run_id", Value::None),
            ("task_id", Value::None),
            ("background_error", Value::None),
        ],
    }
}

/// A WorkflowState of `flujo`'s shape with fixed fields around
/// `pipeline_context` and `last_step_output`, for `run_id`.
pub fn base_state(flujo: FlujoVersion, run_id: &str, pipeline_context: Dict, last_step_output: Value) -> Dict {
    let mut state = fields([
        ("run_id", Value::from(run_id)),
        ("pipeline_id", Value::from("pipeline-1")),
        ("pipeline_name", Value::from("conformance")),
        ("pipeline_version", Value::from("1.0.0")),
        ("current_step_index", Value::from(1)),
        ("pipeline_context", Value::Dict(pipeline_context)),
        ("last_step_output", last_step_output),
        ("step_history", Value::List(Vec::new())),
        ("status", Value::from("running")),
        ("created_at", fixed_datetime(flujo, 0)),
        ("updated_at", fixed_datetime(flujo, 1)),
    ]);
    for (name, value) in added_fields(flujo) {
        state.insert(Value::from(name), value);
    }
    state
}

/// `at` with `flujo`'s kind of timestamp: 0.6's are aware UTC.
fn stamped(flujo: FlujoVersion, mut at: DateTime) -> DateTime {
    if let Some(utc) = timestamp_offset(flujo) {
        at.time.offset = Some(utc);
    }
    at
}

/// Sets the state's `run_id` field (stored states carry their own id).
pub fn with_run_id(mut state: Value, run_id: &str) -> Value {
    if let Value::Dict(dict) = &mut state {
        dict.insert(Value::from("run_id"), Value::from(run_id));
    }
    state
}

fn step_record() -> impl Strategy<Value = Value> {
    ("[a-z_]{1,10}", prop_oneof![Just(Value::from("ok")), (0i64..10).prop_map(Value::from)], 0.0f64..10.0, any_datetime()).prop_map(
        |(name, output, latency, started)| {
            Value::Dict(fields([("name", Value::Str(name)), ("output", output), ("latency_s", Value::Float(latency)), ("started", Value::DateTime(started))]))
        },
    )
}

/// Arbitrary WorkflowStates of `flujo`'s shape: the ten fields with
/// realistic types, the optional ones sometimes, the fields 0.6 adds (with
/// aware UTC timestamps for 0.6), and arbitrary values of every storable
/// kind (custom types included) in `pipeline_context` and
/// `last_step_output`. `run_id` is a placeholder; set it with [`with_run_id`].
pub fn workflow_states(flujo: FlujoVersion, custom: Vec<BoxedStrategy<Value>>) -> BoxedStrategy<Value> {
    let value = storable_value(custom);
    let context = proptest::collection::vec(("[a-z_$ ]{0,8}|.{0,4}", value.clone()), 0..6)
        .prop_map(|entries| entries.into_iter().map(|(k, v)| (Value::Str(k), v)).collect::<Dict>());
    let ids = ("[a-z0-9-]{1,12}", "[a-zA-Z ]{1,16}", "[0-9]\\.[0-9]{1,2}\\.[0-9]");
    let optional = (
        proptest::option::of(0i64..100),
        proptest::option::of(proptest::option::of(".{0,20}")),
        proptest::option::of(proptest::option::of(0i64..1_000_000)),
        proptest::option::of(proptest::option::of(0.0f64..4096.0)),
    );
    (
        ids,
        0i64..50,
        context,
        prop_oneof![Just(Value::None), value],
        proptest::collection::vec(step_record(), 0..4),
        proptest::sample::select(STATUSES.to_vec()),
        (any_datetime(), any_datetime()).prop_map(move |(created, updated)| (stamped(flujo, created), stamped(flujo, updated))),
        optional,
    )
        .prop_map(move |((pipeline_id, name, version), step, context, output, history, status, (created, updated), optional)| {
            let mut state = fields([
                ("run_id", Value::from("")),
                ("pipeline_id", Value::Str(pipeline_id)),
                ("pipeline_name", Value::Str(name)),
                ("pipeline_version", Value::Str(version)),
                ("current_step_index", Value::Int(Int::Small(step))),
                ("pipeline_context", Value::Dict(context)),
                ("last_step_output", output),
                ("step_history", Value::List(history)),
                ("status", Value::from(status)),
                ("created_at", Value::DateTime(created)),
                ("updated_at", Value::DateTime(updated)),
            ]);
            for (name, value) in added_fields(flujo) {
                state.insert(Value::from(name), value);
            }
            let (total_steps, error_message, execution_time_ms, memory_usage_mb) = optional;
            if let Some(n) = total_steps {
                state.insert(Value::from("total_steps"), Value::from(n));
            }
            if let Some(message) = error_message {
                state.insert(Value::from("error_message"), message.map_or(Value::None, Value::Str));
            }
            if let Some(ms) = execution_time_ms {
                state.insert(Value::from("execution_time_ms"), ms.map_or(Value::None, Value::from));
            }
            if let Some(mb) = memory_usage_mb {
                state.insert(Value::from("memory_usage_mb"), mb.map_or(Value::None, Value::Float));
            }
            Value::Dict(state)
        })
        .boxed()
}

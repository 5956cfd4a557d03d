//! Octavia v2 resource schemas: each resource's fields with their types, defaults, ranges,
//! whether a create needs them and whether an update may change them.
//!
//! Resources are kept as JSON objects (`serde_json::Map`) checked against these tables, so one
//! validator serves every resource and filters, `fields` and `sort` work on any attribute.
//! Numeric fields also take numeric strings (`"connection_limit": "100"`, as the CLI sends).

use serde_json::{Map, Value};

/// A field's type and the values it accepts.
#[derive(Clone, Copy)]
pub enum Kind {
    Str,
    /// A string or null.
    OptStr,
    Bool,
    Int(i64, i64),
    /// An integer in range, or null.
    OptInt(i64, i64),
    Enum(&'static [&'static str]),
    /// An IP address (v4 or v6), or null.
    OptIp,
    /// A JSON object (session_persistence, insert_headers), or null.
    OptObject,
    /// A list of strings (tags, allowed_cidrs, ...).
    StrList,
    /// A health monitor's `http_version`: 1.0 or 1.1 (a number, or a numeric string), or null.
    HttpVersion,
    /// Computed by the server (ids, statuses, relationship lists): never written by a client.
    ReadOnly,
}

#[derive(Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub mutable: bool,
    pub default: fn() -> Value,
}

const fn f(name: &'static str, kind: Kind, required: bool, mutable: bool) -> Field {
    Field {
        name,
        kind,
        required,
        mutable,
        default: null,
    }
}

const fn d(name: &'static str, kind: Kind, default: fn() -> Value) -> Field {
    Field {
        name,
        kind,
        required: false,
        mutable: true,
        default,
    }
}

fn null() -> Value {
    Value::Null
}
fn yes() -> Value {
    Value::Bool(true)
}
fn no() -> Value {
    Value::Bool(false)
}
fn empty_str() -> Value {
    Value::String(String::new())
}
fn empty_list() -> Value {
    Value::Array(Vec::new())
}
fn empty_object() -> Value {
    Value::Object(Map::new())
}
fn minus_one() -> Value {
    Value::from(-1)
}
fn one() -> Value {
    Value::from(1)
}
fn three() -> Value {
    Value::from(3)
}
fn ms_50000() -> Value {
    Value::from(50000)
}
fn ms_5000() -> Value {
    Value::from(5000)
}
fn zero() -> Value {
    Value::from(0)
}

const MAX_TIMEOUT: i64 = 31_536_000_000;
pub const LISTENER_PROTOCOLS: &[&str] = &[
    "HTTP",
    "HTTPS",
    "TCP",
    "TERMINATED_HTTPS",
    "UDP",
    "SCTP",
    "PROMETHEUS",
];
pub const POOL_PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP", "UDP", "SCTP"];
pub const ALGORITHMS: &[&str] = &[
    "ROUND_ROBIN",
    "LEAST_CONNECTIONS",
    "SOURCE_IP",
    "SOURCE_IP_PORT",
];
pub const MONITOR_TYPES: &[&str] = &[
    "HTTP",
    "HTTPS",
    "PING",
    "TCP",
    "TLS-HELLO",
    "UDP-CONNECT",
    "SCTP",
];
pub const HTTP_METHODS: &[&str] = &[
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];
pub const L7_ACTIONS: &[&str] = &[
    "REDIRECT_TO_POOL",
    "REDIRECT_TO_URL",
    "REDIRECT_PREFIX",
    "REJECT",
];
pub const L7_RULE_TYPES: &[&str] = &[
    "COOKIE",
    "FILE_TYPE",
    "HEADER",
    "HOST_NAME",
    "PATH",
    "SSL_CONN_HAS_CERT",
    "SSL_VERIFY_RESULT",
    "SSL_DN_FIELD",
];
pub const L7_COMPARE: &[&str] = &["CONTAINS", "ENDS_WITH", "EQUAL_TO", "REGEX", "STARTS_WITH"];

const COMMON: [Field; 4] = [
    d("name", Kind::Str, empty_str),
    d("description", Kind::Str, empty_str),
    d("admin_state_up", Kind::Bool, yes),
    d("tags", Kind::StrList, empty_list),
];

pub const LOADBALANCER: &[Field] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    f("vip_address", Kind::OptIp, false, false),
    f("vip_subnet_id", Kind::OptStr, false, false),
    f("vip_network_id", Kind::OptStr, false, false),
    f("vip_port_id", Kind::OptStr, false, false),
    d("vip_qos_policy_id", Kind::OptStr, null),
    f("provider", Kind::OptStr, false, false),
    f("flavor_id", Kind::OptStr, false, false),
    f("availability_zone", Kind::OptStr, false, false),
    f("project_id", Kind::OptStr, false, false),
];

pub const LISTENER: &[Field] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    f("protocol", Kind::Enum(LISTENER_PROTOCOLS), true, false),
    f("protocol_port", Kind::Int(1, 65535), true, false),
    f("loadbalancer_id", Kind::Str, true, false),
    d(
        "connection_limit",
        Kind::Int(-1, i32::MAX as i64),
        minus_one,
    ),
    d("default_pool_id", Kind::OptStr, null),
    d("timeout_client_data", Kind::Int(0, MAX_TIMEOUT), ms_50000),
    d("timeout_member_connect", Kind::Int(0, MAX_TIMEOUT), ms_5000),
    d("timeout_member_data", Kind::Int(0, MAX_TIMEOUT), ms_50000),
    d("timeout_tcp_inspect", Kind::Int(0, MAX_TIMEOUT), zero),
    d("insert_headers", Kind::OptObject, empty_object),
    d("allowed_cidrs", Kind::StrList, null),
    d("default_tls_container_ref", Kind::OptStr, null),
    d("sni_container_refs", Kind::StrList, empty_list),
    d("client_ca_tls_container_ref", Kind::OptStr, null),
    d("client_crl_container_ref", Kind::OptStr, null),
    d(
        "client_authentication",
        Kind::Enum(&["NONE", "OPTIONAL", "MANDATORY"]),
        none,
    ),
    f("project_id", Kind::OptStr, false, false),
];

fn none() -> Value {
    Value::String("NONE".into())
}

pub const POOL: &[Field] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    f("protocol", Kind::Enum(POOL_PROTOCOLS), true, false),
    f("lb_algorithm", Kind::Enum(ALGORITHMS), true, true),
    f("listener_id", Kind::OptStr, false, false),
    f("loadbalancer_id", Kind::OptStr, false, false),
    d("session_persistence", Kind::OptObject, null),
    d("tls_enabled", Kind::Bool, no),
    d("tls_container_ref", Kind::OptStr, null),
    d("ca_tls_container_ref", Kind::OptStr, null),
    d("crl_container_ref", Kind::OptStr, null),
    f("project_id", Kind::OptStr, false, false),
];

pub const MEMBER: &[Field] = &[
    COMMON[0],
    COMMON[2],
    COMMON[3],
    f("address", Kind::OptIp, true, false),
    f("protocol_port", Kind::Int(1, 65535), true, false),
    d("weight", Kind::Int(0, 256), one),
    d("backup", Kind::Bool, no),
    f("subnet_id", Kind::OptStr, false, false),
    d("monitor_address", Kind::OptIp, null),
    d("monitor_port", Kind::OptInt(1, 65535), null),
    f("project_id", Kind::OptStr, false, false),
];

pub const HEALTHMONITOR: &[Field] = &[
    COMMON[0],
    COMMON[2],
    COMMON[3],
    f("pool_id", Kind::Str, true, false),
    f("type", Kind::Enum(MONITOR_TYPES), true, false),
    f("delay", Kind::Int(0, i32::MAX as i64), true, true),
    f("timeout", Kind::Int(0, i32::MAX as i64), true, true),
    f("max_retries", Kind::Int(1, 10), true, true),
    d("max_retries_down", Kind::Int(1, 10), three),
    d("http_method", Kind::Enum(HTTP_METHODS), null),
    d("url_path", Kind::OptStr, null),
    d("expected_codes", Kind::OptStr, null),
    d("http_version", Kind::HttpVersion, null),
    d("domain_name", Kind::OptStr, null),
    f("project_id", Kind::OptStr, false, false),
];

pub const L7POLICY: &[Field] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    f("listener_id", Kind::Str, true, false),
    f("action", Kind::Enum(L7_ACTIONS), true, true),
    d("position", Kind::Int(1, 2_147_483_647), null),
    d("redirect_pool_id", Kind::OptStr, null),
    d("redirect_url", Kind::OptStr, null),
    d("redirect_prefix", Kind::OptStr, null),
    d("redirect_http_code", Kind::OptInt(301, 308), null),
    f("project_id", Kind::OptStr, false, false),
];

pub const L7RULE: &[Field] = &[
    COMMON[2],
    COMMON[3],
    f("type", Kind::Enum(L7_RULE_TYPES), true, true),
    f("compare_type", Kind::Enum(L7_COMPARE), true, true),
    d("key", Kind::OptStr, null),
    f("value", Kind::Str, true, true),
    d("invert", Kind::Bool, no),
    f("project_id", Kind::OptStr, false, false),
];

pub const QUOTA_FIELDS: &[&str] = &[
    "loadbalancer",
    "listener",
    "member",
    "pool",
    "healthmonitor",
    "l7policy",
    "l7rule",
];

/// Reads `value` as field `field` of a `what`: coerced (numeric strings to numbers), checked.
pub fn check_value(what: &str, field: &Field, value: &Value) -> Result<Value, String> {
    let bad = |expected: &str| {
        Err(format!(
            "Invalid input for field/attribute {}. Value: '{}'. {expected}",
            field.name,
            plain(value)
        ))
    };
    let _ = what;
    match field.kind {
        Kind::ReadOnly => bad("Value is read-only"),
        Kind::Str => match value {
            Value::String(_) => Ok(value.clone()),
            _ => bad("Value should be a string"),
        },
        Kind::OptStr => match value {
            Value::String(_) | Value::Null => Ok(value.clone()),
            _ => bad("Value should be a string"),
        },
        Kind::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => bad("Value should be boolean"),
        },
        Kind::Int(min, max) | Kind::OptInt(min, max) => {
            if value.is_null() && matches!(field.kind, Kind::OptInt(..)) {
                return Ok(Value::Null);
            }
            let n = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n < min => bad(&format!("Value should be greater or equal to {min}")),
                Some(n) if n > max => bad(&format!("Value should be lower or equal to {max}")),
                Some(n) => Ok(Value::from(n)),
                None => bad("Value should be an integer"),
            }
        }
        Kind::Enum(values) => match value {
            Value::String(s) if values.contains(&s.as_str()) => Ok(value.clone()),
            Value::Null if field.name == "http_method" => Ok(Value::Null),
            _ => bad(&format!("Value should be one of: {}", values.join(", "))),
        },
        Kind::OptIp => match value {
            Value::Null => Ok(Value::Null),
            Value::String(s) if s.parse::<std::net::IpAddr>().is_ok() => Ok(value.clone()),
            _ => bad("Value should be IPv4 or IPv6 format"),
        },
        Kind::OptObject => match value {
            Value::Null | Value::Object(_) => Ok(value.clone()),
            _ => bad("Value should be an object"),
        },
        Kind::HttpVersion => {
            let v = match value {
                Value::Null => return Ok(Value::Null),
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match v {
                Some(v) if v == 1.0 || v == 1.1 => Ok(Value::from(v)),
                _ => bad("Value should be one of: 1.0, 1.1"),
            }
        }
        Kind::StrList => match value {
            Value::Null => Ok(Value::Null),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(value.clone()),
            _ => bad("Value should be a list of strings"),
        },
    }
}

/// A value as Octavia quotes it in messages (strings without their JSON quotes).
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds a new object from a create body: unknown fields refused, required ones present,
/// defaults filled in.
pub fn create(
    what: &str,
    fields: &[Field],
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (k, v) in body {
        if k == "tenant_id" {
            continue;
        }
        let Some(field) = fields.iter().find(|f| f.name == k) else {
            return Err(format!(
                "Invalid input for field/attribute {k}. Value: '{}'. unknown attribute",
                plain(v)
            ));
        };
        out.insert(k.clone(), check_value(what, field, v)?);
    }
    if let Some(t) = body.get("tenant_id") {
        if !out.contains_key("project_id") {
            out.insert("project_id".into(), t.clone());
        }
    }
    for field in fields {
        if !out.contains_key(field.name) || (field.required && out[field.name].is_null()) {
            if field.required {
                return Err(format!(
                    "Invalid input for field/attribute {}. Value: 'None'. Mandatory field missing.",
                    field.name
                ));
            }
            out.insert(field.name.into(), (field.default)());
        }
    }
    Ok(out)
}

/// Applies an update body to `obj`: only known, mutable fields.
pub fn update(
    what: &str,
    fields: &[Field],
    obj: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), String> {
    let mut changes = Vec::new();
    for (k, v) in body {
        let Some(field) = fields.iter().find(|f| f.name == k) else {
            return Err(format!(
                "Invalid input for field/attribute {k}. Value: '{}'. unknown attribute",
                plain(v)
            ));
        };
        if !field.mutable {
            return Err(format!(
                "Invalid input for field/attribute {k}. Value: '{}'. {what} attribute {k} cannot be updated",
                plain(v)
            ));
        }
        changes.push((k.clone(), check_value(what, field, v)?));
    }
    for (k, v) in changes {
        obj.insert(k, v);
    }
    Ok(())
}

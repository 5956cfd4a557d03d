//! GET on a collection: filters on any attribute, `fields`, `sort` (or `sort_key`/`sort_dir`),
//! `limit`/`marker`/`page_reverse`, and the `<plural>_links` Octavia returns with a page.

use serde_json::{Map, Value};

/// A query string's pairs, percent-decoded, in order (a name may repeat: `fields=a&fields=b`).
pub fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const CONTROL: &[&str] = &[
    "fields",
    "limit",
    "marker",
    "page_reverse",
    "sort",
    "sort_key",
    "sort_dir",
    "cascade",
    "project_id_filter",
];

fn matches(v: Option<&Value>, want: &str) -> bool {
    match v {
        None | Some(Value::Null) => want.is_empty() || want == "None" || want == "null",
        Some(Value::String(s)) => s == want,
        Some(Value::Bool(b)) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Some(Value::Number(n)) => n.to_string() == want,
        Some(Value::Array(items)) => items
            .iter()
            .any(|i| i.as_str() == Some(want) || i.get("id").and_then(Value::as_str) == Some(want)),
        Some(other) => *other == want,
    }
}

fn cmp(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None | Some(Value::Null), None | Some(Value::Null)) => std::cmp::Ordering::Equal,
        (None | Some(Value::Null), _) => std::cmp::Ordering::Less,
        (_, None | Some(Value::Null)) => std::cmp::Ordering::Greater,
        (x, y) => x.map(|v| v.to_string()).cmp(&y.map(|v| v.to_string())),
    }
}

/// Filters, sorts and pages `items` (already in creation order) as the query asks; returns the
/// envelope `{plural: [...], plural_links: [...]}`.
pub fn list(
    plural: &str,
    base_url: &str,
    mut items: Vec<Map<String, Value>>,
    query: &[(String, String)],
) -> Result<Value, String> {
    for (k, v) in query.iter().filter(|(k, _)| !CONTROL.contains(&k.as_str())) {
        items.retain(|o| matches(o.get(k), v));
    }
    let mut sort: Vec<(String, bool)> = Vec::new();
    for (k, v) in query {
        if k == "sort" {
            for part in v.split(',').filter(|p| !p.is_empty()) {
                let (key, dir) = part.split_once(':').unwrap_or((part, "asc"));
                sort.push((key.to_string(), dir != "desc"));
            }
        }
    }
    let keys: Vec<&String> = query
        .iter()
        .filter(|(k, _)| k == "sort_key")
        .map(|(_, v)| v)
        .collect();
    let dirs: Vec<&String> = query
        .iter()
        .filter(|(k, _)| k == "sort_dir")
        .map(|(_, v)| v)
        .collect();
    for (n, k) in keys.iter().enumerate() {
        sort.push((
            (*k).clone(),
            dirs.get(n).is_none_or(|d| d.as_str() != "desc"),
        ));
    }
    for (_, v) in query.iter().filter(|(k, _)| k == "sort_dir") {
        if v != "asc" && v != "desc" {
            return Err(format!(
                "Invalid sort direction '{v}' (expected asc or desc)"
            ));
        }
    }
    if !sort.is_empty() {
        items.sort_by(|a, b| {
            for (k, asc) in &sort {
                let o = cmp(a.get(k), b.get(k));
                let o = if *asc { o } else { o.reverse() };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
    let reverse = get("page_reverse").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if reverse {
        items.reverse();
    }
    let limit = match get("limit") {
        None => None,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("Invalid input for field/attribute limit. Value: '{l}'. Value should be a positive integer")),
        },
    };
    let mut start = 0;
    if let Some(marker) = get("marker") {
        match items
            .iter()
            .position(|o| o.get("id").and_then(Value::as_str) == Some(marker))
        {
            Some(p) => start = p + 1,
            None => return Err(format!("Marker {marker} could not be found.")),
        }
    }
    let end = limit.map_or(items.len(), |l| (start + l).min(items.len()));
    let had_previous = start > 0;
    let has_next = end < items.len();
    let mut page: Vec<Map<String, Value>> = items[start..end].to_vec();
    if reverse {
        page.reverse();
    }
    let fields: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(','))
        .collect();
    let mut links = Vec::new();
    if let Some(l) = limit {
        let first_id = page
            .first()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str);
        let last_id = page
            .last()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str);
        if has_next {
            if let Some(id) = last_id {
                links.push(serde_json::json!({"href": format!("{base_url}?limit={l}&marker={id}"), "rel": "next"}));
            }
        }
        if had_previous {
            if let Some(id) = first_id {
                links.push(serde_json::json!({"href": format!("{base_url}?limit={l}&marker={id}&page_reverse=True"), "rel": "previous"}));
            }
        }
    }
    let page: Vec<Value> = page
        .into_iter()
        .map(|o| Value::Object(select(o, &fields)))
        .collect();
    let mut out = Map::new();
    out.insert(plural.to_string(), Value::Array(page));
    out.insert(format!("{plural}_links"), Value::Array(links));
    Ok(Value::Object(out))
}

/// Keeps only `fields` (all when empty).
pub fn select(o: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    if fields.is_empty() {
        return o;
    }
    o.into_iter()
        .filter(|(k, _)| fields.contains(&k.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<Map<String, Value>> {
        (1..=5)
            .map(|n| {
                serde_json::json!({"id": format!("id{n}"), "name": format!("n{}", 6 - n), "weight": n})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn filters_sort_and_pages() {
        let q = parse_query(Some("weight=3"));
        let v = list("members", "u", items(), &q).expect("list");
        assert_eq!(v["members"].as_array().map(Vec::len), Some(1));
        let q = parse_query(Some("sort=name:asc&limit=2&fields=id"));
        let v = list("members", "u", items(), &q).expect("list");
        assert_eq!(
            v["members"],
            serde_json::json!([{"id": "id5"}, {"id": "id4"}])
        );
        assert_eq!(v["members_links"][0]["rel"], "next");
        assert_eq!(v["members_links"][0]["href"], "u?limit=2&marker=id4");
        let q = parse_query(Some("limit=2&marker=id2"));
        let v = list("members", "u", items(), &q).expect("list");
        assert_eq!(v["members"][0]["id"], "id3");
        let rels: Vec<&str> = v["members_links"]
            .as_array()
            .expect("links")
            .iter()
            .filter_map(|l| l["rel"].as_str())
            .collect();
        assert_eq!(rels, ["next", "previous"]);
        assert!(list("members", "u", items(), &parse_query(Some("marker=nope"))).is_err());
        assert!(list("members", "u", items(), &parse_query(Some("limit=x"))).is_err());
        assert_eq!(
            parse_query(Some("name=a%20b+c")),
            [("name".to_string(), "a b c".to_string())]
        );
    }
}

//! `limit`, `offset` and `order` as upstream's client sends them, read the same way on every
//! list: `limit` 1–500, `offset` ≥ 0, `order` a field of the listed objects, `-` first for
//! descending (`-id`). A field the objects do not have is a 400 naming the allowed ones.

use crate::http::api::error::{ApiError, ApiResult};
use crate::http::api::extract::QueryParams;
use serde_json::Value;
use std::cmp::Ordering;

/// Largest `limit`.
pub const MAX_LIMIT: u64 = 500;

/// A list request's paging.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paging {
    /// At most this many (none: all).
    pub limit: Option<u64>,
    /// Skip this many first.
    pub offset: u64,
    /// The field to order by and whether descending.
    pub order: Option<(String, bool)>,
}

impl Paging {
    /// Takes `limit`, `offset` and `order` from `q`.
    pub fn take(q: &mut QueryParams) -> ApiResult<Paging> {
        let limit = take_limit(q)?;
        let offset = q
            .take::<u64>("offset", "an integer of 0 or more")?
            .unwrap_or(0);
        let order = q
            .take::<String>("order", "a field name, `-` first for descending")?
            .map(|o| {
                let o = o.trim();
                match o.strip_prefix('-') {
                    Some(f) => (f.to_string(), true),
                    None => (o.strip_prefix('+').unwrap_or(o).to_string(), false),
                }
            });
        if let Some((field, _)) = &order
            && field.is_empty()
        {
            return Err(ApiError::bad_field(
                "order",
                "invalid order: give a field name, `-` first for descending (e.g. -id)",
            ));
        }
        Ok(Paging {
            limit,
            offset,
            order,
        })
    }

    /// Orders (by `order`, else by id), skips `offset` and keeps `limit` of `items` (objects).
    pub fn apply(&self, mut items: Vec<Value>) -> ApiResult<Vec<Value>> {
        let (field, descending) = self
            .order
            .clone()
            .unwrap_or_else(|| ("id".to_string(), false));
        if let Some(first) = items.first().and_then(Value::as_object)
            && !first.contains_key(&field)
        {
            let mut allowed: Vec<&String> = first.keys().collect();
            allowed.sort();
            let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::bad_field(
                "order",
                format!(
                    "invalid order: these objects have no field {field:?}; allowed: {}",
                    allowed.join(", ")
                ),
            ));
        }
        items.sort_by(|a, b| {
            let o = compare(&a[&field], &b[&field]);
            if descending { o.reverse() } else { o }
        });
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let take = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        Ok(items.into_iter().skip(skip).take(take).collect())
    }
}

/// `limit` alone (single-object routes accept it, as the client may send it everywhere).
pub fn take_limit(q: &mut QueryParams) -> ApiResult<Option<u64>> {
    let limit = q.take::<u64>("limit", "an integer from 1 to 500")?;
    if let Some(l) = limit
        && !(1..=MAX_LIMIT).contains(&l)
    {
        return Err(ApiError::bad_field(
            "limit",
            format!("invalid limit: {l} is not from 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(limit)
}

/// Nulls first, then numbers, booleans and text in their own order.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::Paging;
    use serde_json::{Value, json};

    fn ids(v: &[Value]) -> Vec<i64> {
        v.iter().map(|x| x["id"].as_i64().unwrap()).collect()
    }

    #[test]
    fn orders_skips_and_limits() {
        let items = vec![
            json!({"id": 2, "name": "b"}),
            json!({"id": 1, "name": "c"}),
            json!({"id": 3, "name": null}),
        ];
        let all = Paging::default().apply(items.clone()).unwrap();
        assert_eq!(ids(&all), [1, 2, 3]);
        let p = Paging {
            limit: Some(1),
            offset: 1,
            order: Some(("name".into(), true)),
        };
        assert_eq!(ids(&p.apply(items.clone()).unwrap()), [2]);
        let p = Paging {
            order: Some(("nope".into(), false)),
            ..Paging::default()
        };
        let e = p.apply(items).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("order"));
        assert!(
            e.body.detail.contains("allowed: id, name"),
            "{}",
            e.body.detail
        );
    }
}

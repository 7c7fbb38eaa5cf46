//! Request extractors that answer bad input with a JSON 400/413/415 naming the field.

use super::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// A JSON body (`Content-Type: application/json`) deserialized into `T`: malformed JSON, wrong
/// types, missing and unknown fields are 400 with the JSON path of the field; a body over the
/// server's limit is 413; another content type is 415.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// A JSON body's raw bytes, after the same content-type and size checks as [`ApiJson`].
#[derive(Debug, Clone)]
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than the server accepts",
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "could not read the request body")
            }
        })?;
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the body must be JSON with Content-Type: application/json, not {:?}",
                    content_type
                ),
            )
            .with_field("Content-Type"));
        }
        Ok(Self(bytes))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserializes `bytes` as `T`, naming the offending field on error. Numbers with a zero
/// fraction (`3.0`) count as integers, as JSON Schema says. Every body is a JSON object (serde
/// would read a struct from an array of its fields' values too, which no schema here allows).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| json_error(".", &e))?;
    if !value.is_object() {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        ));
    }
    integral_floats(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })
}

/// Turns every float with a zero fraction that fits an `i64` into an integer.
fn integral_floats(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats),
        Value::Object(map) => map.values_mut().for_each(integral_floats),
        _ => {}
    }
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let parent = if path == "." { "" } else { path };
    let message = e.to_string();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {message}"),
        ),
        Category::Data => {
            // serde names unknown and missing fields in backticks; the path is their parent.
            let named = ["unknown field `", "missing field `"]
                .iter()
                .find_map(|p| message.strip_prefix(p))
                .and_then(|rest| rest.split('`').next());
            // serde_path_to_error's path already ends with an unknown key, not a missing one.
            let named = named.filter(|_| message.starts_with("missing field"));
            let field = match named {
                Some(name) if parent.is_empty() => name.to_string(),
                Some(name) => format!("{parent}.{name}"),
                None if parent.is_empty() => String::new(),
                None => parent.to_string(),
            };
            // Drop serde's " at line 1 column 12" position: the field says where.
            let text = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(t, _)| t);
            let err = ApiError::new(
                StatusCode::BAD_REQUEST,
                if field.is_empty() {
                    format!("invalid body: {text}")
                } else {
                    format!("invalid {field}: {text}")
                },
            );
            if field.is_empty() {
                err
            } else {
                err.with_field(field)
            }
        }
    }
}

/// Query parameters, parsed one by one so that each error names its parameter; unknown and
/// repeated parameters are 400 too.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "the query string is not valid URL-encoded text",
                )
            })?;
        Ok(Self { pairs })
    }
}

impl QueryParams {
    /// Takes parameter `name`, parsed with `FromStr`; `what` says what is allowed.
    pub fn take<T: FromStr>(&mut self, name: &str, what: &str) -> ApiResult<Option<T>> {
        let mut found: Vec<String> = Vec::new();
        self.pairs.retain(|(k, v)| {
            if k == name {
                found.push(v.clone());
                false
            } else {
                true
            }
        });
        match found.as_slice() {
            [] => Ok(None),
            [v] => v.trim().parse::<T>().map(Some).map_err(|_| {
                ApiError::bad_field(name, format!("invalid {name}: {v:?} is not {what}"))
            }),
            _ => Err(ApiError::bad_field(
                name,
                format!("{name} is given {} times; give it once", found.len()),
            )),
        }
    }

    /// 400 when a parameter was given that no `take` asked for.
    pub fn finish(self, allowed: &[&str]) -> ApiResult<()> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(ApiError::bad_field(
                k.clone(),
                format!(
                    "unknown query parameter {k:?}; allowed: {}",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            )),
        }
    }
}

/// Parses a path id (`/job/{id}`): 400 naming `id` when it is not an integer.
pub fn path_id<T: From<i64>>(raw: &str) -> ApiResult<T> {
    raw.trim()
        .parse::<i64>()
        .map(T::from)
        .map_err(|_| ApiError::bad_field("id", format!("invalid id: {raw:?} is not an integer")))
}

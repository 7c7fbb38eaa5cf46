//! The Zabbix sender protocol (trapper items), both sides: what `zabbix_sender` sends and what a
//! Zabbix server or proxy answers.
//!
//! A message is a header — `ZBXD`, a flags byte (`0x01` protocol, `0x02` zlib-compressed,
//! `0x04` large packet), the payload length and a reserved field, each 4 bytes little-endian
//! (8 bytes each with `0x04`) — followed by the JSON payload. A request is
//! `{"request":"sender data","data":[{"host","key","value","clock","ns"}…],"clock","ns"}`; the
//! reply is `{"response":"success","info":"processed: N; failed: M; total: T; seconds spent: S"}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Header magic.
pub const MAGIC: &[u8; 4] = b"ZBXD";
/// Flag: Zabbix protocol.
pub const FLAG_PROTOCOL: u8 = 0x01;
/// Flag: the payload is zlib-compressed (not produced here; refused when read).
pub const FLAG_COMPRESSED: u8 = 0x02;
/// Flag: large packet (8-byte lengths).
pub const FLAG_LARGE: u8 = 0x04;
/// The largest payload accepted when reading (the server's own limit is 1 GiB; ours is lower).
pub const MAX_PAYLOAD: u64 = 64 << 20;

/// One trapper value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZabbixItem {
    /// The monitored host's technical name in Zabbix.
    pub host: String,
    /// The item key.
    pub key: String,
    /// The value (always sent as a string, as `zabbix_sender` does).
    pub value: String,
    /// Seconds since the epoch of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<i64>,
    /// Nanoseconds within `clock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<i64>,
}

impl ZabbixItem {
    /// An item stamped at `at`.
    pub fn new(
        host: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            host: host.into(),
            key: key.into(),
            value: value.into(),
            clock: Some(at.timestamp()),
            ns: Some(i64::from(at.timestamp_subsec_nanos())),
        }
    }
}

/// A `sender data` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRequest {
    /// Always `sender data`.
    pub request: String,
    /// The values.
    pub data: Vec<ZabbixItem>,
    /// When it was sent (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<i64>,
    /// When it was sent (nanoseconds within `clock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<i64>,
}

impl SenderRequest {
    /// A request for `items`, sent at `now`.
    pub fn new(items: Vec<ZabbixItem>, now: DateTime<Utc>) -> Self {
        Self {
            request: "sender data".into(),
            data: items,
            clock: Some(now.timestamp()),
            ns: Some(i64::from(now.timestamp_subsec_nanos())),
        }
    }

    /// The framed bytes to write.
    pub fn encode(&self) -> Vec<u8> {
        frame(&serde_json::to_vec(self).expect("serializable"))
    }

    /// Parses a request payload (what a trapper receives).
    pub fn decode(payload: &[u8]) -> io::Result<Self> {
        serde_json::from_slice(payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// A server's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderReply {
    /// `success` or `failed`.
    pub response: String,
    /// `processed: N; failed: M; total: T; seconds spent: S`.
    #[serde(default)]
    pub info: String,
}

/// The counts in a reply's `info`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReplyCounts {
    /// Values the server accepted.
    pub processed: u64,
    /// Values it refused (no such host or item, wrong type, not a trapper item, host not allowed).
    pub failed: u64,
    /// Values received.
    pub total: u64,
    /// Seconds the server spent.
    pub seconds_spent: Option<f64>,
}

impl SenderReply {
    /// A reply for a trapper to send.
    pub fn success(processed: u64, failed: u64) -> Self {
        Self {
            response: "success".into(),
            info: format!(
                "processed: {processed}; failed: {failed}; total: {}; seconds spent: 0.000100",
                processed + failed
            ),
        }
    }

    /// The framed bytes to write.
    pub fn encode(&self) -> Vec<u8> {
        frame(&serde_json::to_vec(self).expect("serializable"))
    }

    /// Parses a reply payload.
    pub fn decode(payload: &[u8]) -> io::Result<Self> {
        serde_json::from_slice(payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Whether the server answered `success`.
    pub fn is_success(&self) -> bool {
        self.response == "success"
    }

    /// The counts in `info` (missing ones are 0).
    pub fn counts(&self) -> ReplyCounts {
        parse_info(&self.info)
    }
}

/// Parses `processed: N; failed: M; total: T; seconds spent: S` (fields in any order; unknown
/// ones ignored).
pub fn parse_info(info: &str) -> ReplyCounts {
    let mut c = ReplyCounts::default();
    for part in info.split(';') {
        let Some((k, v)) = part.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "processed" => c.processed = v.parse().unwrap_or(0),
            "failed" => c.failed = v.parse().unwrap_or(0),
            "total" => c.total = v.parse().unwrap_or(0),
            "seconds spent" => c.seconds_spent = v.parse().ok(),
            _ => {}
        }
    }
    c
}

/// Frames a payload: `ZBXD`, `0x01`, 4-byte little-endian length, 4 reserved zero bytes (the
/// large-packet form for payloads over 4 GiB - 1).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 21);
    out.extend_from_slice(MAGIC);
    match u32::try_from(payload.len()) {
        Ok(len) => {
            out.push(FLAG_PROTOCOL);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        Err(_) => {
            out.push(FLAG_PROTOCOL | FLAG_LARGE);
            out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// Reads one framed message and returns its payload (uncompressed messages only).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut head = [0u8; 5];
    r.read_exact(&mut head).await?;
    if &head[..4] != MAGIC {
        return Err(invalid(format!(
            "not a Zabbix message (header {:?})",
            &head[..4]
        )));
    }
    let flags = head[4];
    if flags & FLAG_PROTOCOL == 0 {
        return Err(invalid(format!("unknown protocol flags {flags:#04x}")));
    }
    let len = if flags & FLAG_LARGE != 0 {
        let mut b = [0u8; 16];
        r.read_exact(&mut b).await?;
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
    } else {
        let mut b = [0u8; 8];
        r.read_exact(&mut b).await?;
        u64::from(u32::from_le_bytes(b[..4].try_into().expect("4 bytes")))
    };
    if flags & FLAG_COMPRESSED != 0 {
        return Err(invalid(
            "compressed Zabbix messages are not supported".into(),
        ));
    }
    if len > MAX_PAYLOAD {
        return Err(invalid(format!("payload of {len} bytes is too large")));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_like_the_protocol_says() {
        let f = frame(b"{}");
        assert_eq!(&f[..5], b"ZBXD\x01");
        assert_eq!(&f[5..13], &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&f[13..], b"{}");
    }

    #[tokio::test]
    async fn request_round_trips() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let req = SenderRequest::new(
            vec![ZabbixItem::new(
                "h",
                "multiflexi.job.phase[1]",
                "running",
                at,
            )],
            at,
        );
        let bytes = req.encode();
        let payload = read_frame(&mut bytes.as_slice()).await.unwrap();
        assert_eq!(SenderRequest::decode(&payload).unwrap(), req);
        let json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(json["data"][0]["clock"], 1_700_000_000);
        assert_eq!(json["data"][0]["ns"], 123_456_789);
    }

    #[test]
    fn parses_info() {
        let c = parse_info("processed: 3; failed: 1; total: 4; seconds spent: 0.000055");
        assert_eq!((c.processed, c.failed, c.total), (3, 1, 4));
        assert_eq!(c.seconds_spent, Some(0.000055));
        assert_eq!(SenderReply::success(2, 0).counts().processed, 2);
        assert_eq!(parse_info("garbage").processed, 0);
    }
}

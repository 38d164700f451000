//! The tamper-evident audit chain: the canonical form of an entry, the hash that links it to the
//! previous one, and the verification that finds the first broken link.
//!
//! Each entry's hash is `SHA-256(prev_hash ‖ "\n" ‖ canonical(entry))` (ARCHITECTURE.md §6), where
//! the canonical form is JSON with object keys sorted at every depth and no insignificant
//! whitespace. The canonical form does not depend on how a database returns JSON (key order,
//! spacing), so the same entry hashes the same on SQLite and PostgreSQL. Entries carry a
//! gap-free sequence number: editing a row changes its hash, deleting one leaves a gap or a
//! `prev_hash` that no longer matches, and a separately stored head (last sequence and hash)
//! catches deletions at the end of the chain.

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The content of one audit entry, as hashed. Timestamps are Unix microseconds so that the
/// value is exactly what both backends store.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditContent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The entry's id (UUIDv7).
    pub id: Uuid,
    /// When the change happened, in Unix microseconds (UTC).
    pub at_micros: i64,
    /// Who did it: an e-mail, `system`, or `cli:<os user>`.
    pub actor: String,
    /// The client address, when the change came over HTTP.
    pub actor_ip: Option<String>,
    /// What was done, dotted snake case (`user.create`, `auth.login`).
    pub action: String,
    /// What it was done to (an e-mail, an id), when there is one object.
    pub target: Option<String>,
    /// The relevant state before the change.
    pub before: Option<Value>,
    /// The relevant state after the change.
    pub after: Option<Value>,
}

/// Appends `v` to `out` as canonical JSON: sorted keys, no whitespace.
fn write_canonical(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                if let Some(val) = map.get(*k) {
                    write_canonical(out, val);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::String(s) => write_string(out, s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
    }
}

/// Writes a JSON string literal with the minimal escapes (RFC 8785 style).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn opt_str(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// The canonical serialisation of an entry, the bytes that are hashed.
pub fn canonical(entry: &AuditContent) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("action".into(), Value::String(entry.action.clone()));
    obj.insert("actor".into(), Value::String(entry.actor.clone()));
    obj.insert("actor_ip".into(), opt_str(&entry.actor_ip));
    obj.insert("after".into(), entry.after.clone().unwrap_or(Value::Null));
    obj.insert("at".into(), Value::from(entry.at_micros));
    obj.insert("before".into(), entry.before.clone().unwrap_or(Value::Null));
    obj.insert("id".into(), Value::String(entry.id.to_string()));
    obj.insert("seq".into(), Value::from(entry.seq));
    obj.insert("target".into(), opt_str(&entry.target));
    let mut out = String::new();
    write_canonical(&mut out, &Value::Object(obj));
    out
}

/// The hash of an entry that follows `prev_hash`, as lowercase hex.
pub fn chain_hash(prev_hash: &str, entry: &AuditContent) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical(entry).as_bytes());
    hex::encode(h.finalize())
}

/// An entry as stored: its content plus the links.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedEntry {
    /// The hashed content.
    pub content: AuditContent,
    /// The hash of the previous entry (or [`GENESIS_HASH`]).
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The sequence number at which the break was found.
    pub seq: i64,
    /// The id of the entry there, when the entry exists.
    pub id: Option<Uuid>,
    /// What is wrong, in a sentence.
    pub reason: String,
}

/// Checks a chain incrementally, one entry at a time in sequence order, so a caller can stream
/// millions of rows through it in pages.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
    broken: Option<BrokenLink>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
            broken: None,
        }
    }
}

impl ChainVerifier {
    /// A verifier expecting the chain to start at sequence 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next entry; after the first break, later entries are ignored. Returns whether
    /// the chain still holds.
    pub fn push(&mut self, e: &ChainedEntry) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let seq = e.content.seq;
        let id = Some(e.content.id);
        let fail = |reason: String, at: i64, id: Option<Uuid>| BrokenLink {
            seq: at,
            id,
            reason,
        };
        if seq != self.expected_seq {
            self.broken = Some(fail(
                format!(
                    "entry {} is missing: the next entry present has sequence {seq} (deleted rows)",
                    self.expected_seq
                ),
                self.expected_seq,
                None,
            ));
            return false;
        }
        if e.prev_hash != self.prev_hash {
            self.broken = Some(fail(
                format!(
                    "entry {seq} does not link to the entry before it (prev_hash differs; rows deleted or rewritten)"
                ),
                seq,
                id,
            ));
            return false;
        }
        let recomputed = chain_hash(&self.prev_hash, &e.content);
        if recomputed != e.hash {
            self.broken = Some(fail(
                format!(
                    "entry {seq} was modified after it was written (its hash does not match its content)"
                ),
                seq,
                id,
            ));
            return false;
        }
        self.prev_hash = e.hash.clone();
        self.expected_seq = seq + 1;
        self.checked += 1;
        true
    }

    /// Checks the end of the chain against the stored head (`None` when no head was recorded,
    /// which is only valid for an empty chain), and returns the outcome.
    pub fn finish(mut self, head: Option<(i64, &str)>) -> ChainReport {
        if self.broken.is_none() {
            let last_seq = self.expected_seq - 1;
            match head {
                None if last_seq == 0 => {}
                None => {
                    self.broken = Some(BrokenLink {
                        seq: last_seq,
                        id: None,
                        reason: "the chain head record is missing".to_owned(),
                    });
                }
                Some((head_seq, head_hash)) => {
                    if head_seq != last_seq || head_hash != self.prev_hash {
                        self.broken = Some(BrokenLink {
                            seq: last_seq + 1,
                            id: None,
                            reason: format!(
                                "the chain ends at entry {last_seq} but the head records entry {head_seq} (entries deleted at the end)"
                            ),
                        });
                    }
                }
            }
        }
        ChainReport {
            checked: self.checked,
            first_broken: self.broken,
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries that verified before the first break (all of them when intact).
    pub checked: u64,
    /// The first broken link, if any.
    pub first_broken: Option<BrokenLink>,
}

impl ChainReport {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.first_broken.is_none()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<ChainedEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let content = AuditContent {
                    seq,
                    id: Uuid::from_u128(seq as u128),
                    at_micros: 1_700_000_000_000_000 + seq,
                    actor: "alice@example.com".into(),
                    actor_ip: Some("127.0.0.1".into()),
                    action: "user.create".into(),
                    target: Some(format!("u{seq}@example.com")),
                    before: None,
                    after: Some(json!({"role": "viewer", "b": [1, "x\n"], "a": null})),
                };
                let hash = chain_hash(&prev, &content);
                let e = ChainedEntry {
                    content,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(entries: &[ChainedEntry], head: Option<(i64, &str)>) -> ChainReport {
        let mut v = ChainVerifier::new();
        for e in entries {
            v.push(e);
        }
        v.finish(head)
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth() {
        let c = chain(1);
        let s = canonical(&c[0].content);
        assert!(
            s.starts_with("{\"action\":\"user.create\",\"actor\""),
            "{s}"
        );
        assert!(s.contains("\"after\":{\"a\":null,\"b\":[1,\"x\\n\"],\"role\":\"viewer\"}"));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let r = verify(&c, Some((5, &c[4].hash)));
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.checked, 5);
        assert!(verify(&[], None).ok());
    }

    #[test]
    fn edits_deletions_and_truncation_are_found() {
        let c = chain(5);
        let head = Some((5, c[4].hash.as_str()));
        let mut edited = c.clone();
        edited[2].content.actor = "mallory@example.com".into();
        let r = verify(&edited, head);
        assert_eq!(r.first_broken.as_ref().unwrap().seq, 3);
        assert!(r.first_broken.unwrap().reason.contains("modified"));

        let mut deleted = c.clone();
        deleted.remove(1);
        let r = verify(&deleted, head);
        assert_eq!(r.first_broken.unwrap().seq, 2);

        let truncated = &c[..3];
        let r = verify(truncated, head);
        assert_eq!(r.first_broken.unwrap().seq, 4);

        // Renumbering after a deletion still breaks the prev_hash link.
        let mut renumbered = deleted.clone();
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.content.seq = i as i64 + 1;
        }
        let r = verify(&renumbered, head);
        assert_eq!(r.first_broken.unwrap().seq, 2);
    }
}

//! What instances tell each other through `NOTIFY`, on one channel per
//! schema (so deployments sharing a database do not hear each other).

use plantdb_auth_core::session::SessionChange;
use serde::{Deserialize, Serialize};

/// PostgreSQL refuses payloads from 8000 bytes; bigger batches are replaced
/// by a request to reload.
pub(crate) const MAX_PAYLOAD: usize = 7900;

/// User and group messages are built in SQL (`json_build_object`), in the
/// same statement as the change, so they match these shapes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
pub(crate) enum Message {
    /// A user changed; `v` is its version after the change.
    #[serde(rename = "u")]
    User { k: String, v: i64 },
    #[serde(rename = "g")]
    Group { k: String, v: i64 },
    /// A session batch; `c: None` when it was too big to send: reload
    /// everything.
    #[serde(rename = "s")]
    Sessions { c: Option<Vec<SessionChange>> },
    /// The signing key was rotated (`plantdb-auth key rotate`): read it again.
    #[serde(rename = "k")]
    Key,
}

/// The payload announcing a key rotation.
pub(crate) const KEY_PAYLOAD: &str = r#"{"t":"k"}"#;

/// The payload announcing `changes`, within PostgreSQL's size limit.
pub(crate) fn sessions_payload(changes: &[SessionChange]) -> String {
    let full = Message::Sessions {
        c: Some(changes.to_vec()),
    };
    match serde_json::to_string(&full) {
        Ok(text) if text.len() <= MAX_PAYLOAD => text,
        _ => {
            let reload = Message::Sessions { c: None };
            serde_json::to_string(&reload).unwrap_or_default()
        }
    }
}

/// The channel of a schema: a quoted identifier, at most 63 bytes.
pub(crate) fn channel_for(schema: &str) -> String {
    let mut name = format!("plantdb_auth_{schema}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_payload_is_a_key_message() {
        assert!(matches!(
            serde_json::from_str::<Message>(KEY_PAYLOAD).unwrap(),
            Message::Key
        ));
    }

    #[test]
    fn oversized_batches_become_reload_requests() {
        let big: Vec<SessionChange> = (0..500)
            .map(|i| SessionChange::RemoveFamily(format!("family-{i:040}")))
            .collect();
        let text = sessions_payload(&big);
        assert!(text.len() <= MAX_PAYLOAD);
        assert!(matches!(
            serde_json::from_str(&text).unwrap(),
            Message::Sessions { c: None, .. }
        ));
        let small = sessions_payload(&big[..2]);
        assert!(matches!(
            serde_json::from_str(&small).unwrap(),
            Message::Sessions { c: Some(c), .. } if c.len() == 2
        ));
    }

    #[test]
    fn sql_built_messages_parse() {
        let m: Message = serde_json::from_str(r#"{"t" : "u", "k" : "alice", "v" : 7}"#).unwrap();
        assert!(matches!(m, Message::User { ref k, v: 7 } if k == "alice"));
    }
}

//! One-tap links for owners: `/t/{token}` grants one conversation, for a
//! limited time, without a password. The token is the conversation id and an
//! expiry, signed with HMAC-SHA256 (truncated), base64url: short enough for SMS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::ConversationId;

/// How long a takeover link works.
pub const LINK_TTL: chrono::Duration = chrono::Duration::days(7);
const MAC_LEN: usize = 12;
/// Separates these tokens from any other use of the same secret.
const PURPOSE: &[u8] = b"takeover-v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

fn mac(secret: &[u8], body: &[u8]) -> Vec<u8> {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        return Vec::new();
    };
    m.update(PURPOSE);
    m.update(body);
    m.finalize().into_bytes().iter().take(MAC_LEN).copied().collect()
}

/// A token for this conversation, valid until `expires`.
pub fn sign(secret: &[u8], conversation: ConversationId, expires: DateTime<Utc>) -> String {
    let mut body = conversation.0.as_bytes().to_vec();
    body.extend_from_slice(&u32::try_from(expires.timestamp().max(0)).unwrap_or(u32::MAX).to_be_bytes());
    let mut all = body.clone();
    all.extend(mac(secret, &body));
    URL_SAFE_NO_PAD.encode(all)
}

/// The conversation a token grants, if it is authentic and unexpired.
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<ConversationId, LinkError> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| LinkError::Malformed)?;
    if raw.len() != 16 + 4 + MAC_LEN {
        return Err(LinkError::Malformed);
    }
    let (body, tag) = raw.split_at(20);
    if !bool::from(mac(secret, body).as_slice().ct_eq(tag)) {
        return Err(LinkError::Forged);
    }
    let (id, exp) = body.split_at(16);
    let exp: [u8; 4] = exp.try_into().map_err(|_| LinkError::Malformed)?;
    if i64::from(u32::from_be_bytes(exp)) < now.timestamp() {
        return Err(LinkError::Expired);
    }
    let id = uuid::Uuid::from_slice(id).map_err(|_| LinkError::Malformed)?;
    Ok(ConversationId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_is_short() {
        let c = ConversationId::new();
        let now = Utc::now();
        let t = sign(b"secret", c, now + LINK_TTL);
        assert!(t.len() <= 43, "{} chars", t.len());
        assert_eq!(verify(b"secret", &t, now), Ok(c));
    }

    #[test]
    fn forged_tampered_expired_and_garbage_tokens_are_refused() {
        let c = ConversationId::new();
        let now = Utc::now();
        let t = sign(b"secret", c, now + LINK_TTL);
        assert_eq!(verify(b"other", &t, now), Err(LinkError::Forged));
        let mut chars: Vec<char> = t.chars().collect();
        chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(verify(b"secret", &tampered, now), Err(LinkError::Forged));
        assert_eq!(verify(b"secret", &t, now + LINK_TTL + chrono::Duration::seconds(1)), Err(LinkError::Expired));
        assert_eq!(verify(b"secret", "not a token", now), Err(LinkError::Malformed));
        assert_eq!(verify(b"secret", "", now), Err(LinkError::Malformed));
    }
}

//! Signed links, short enough for SMS (HMAC-SHA256, truncated, base64url).
//! Each kind signs with its own purpose, so a token of one kind is never
//! accepted as another.
//!
//! - `/t/{token}` (owners): one conversation, for a limited time, without a
//!   password. The token is the conversation id and an expiry.
//! - `/r/{token}` (customers): one review request's tracked link. The token is
//!   the request's id alone: it never expires, since all it can do is record
//!   a click and send the customer to a public review page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::{ConversationId, ReviewRequestId};

/// How long a takeover link works.
pub const LINK_TTL: chrono::Duration = chrono::Duration::days(7);
const MAC_LEN: usize = 12;
/// Separates takeover tokens from any other use of the same secret.
const TAKEOVER: &[u8] = b"takeover-v1";
/// Separates review-link tokens from takeover tokens.
const REVIEW: &[u8] = b"review-link-v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

fn mac(secret: &[u8], purpose: &[u8], body: &[u8]) -> Vec<u8> {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        return Vec::new();
    };
    m.update(purpose);
    m.update(body);
    m.finalize().into_bytes().iter().take(MAC_LEN).copied().collect()
}

fn seal(secret: &[u8], purpose: &[u8], body: Vec<u8>) -> String {
    let tag = mac(secret, purpose, &body);
    let mut all = body;
    all.extend(tag);
    URL_SAFE_NO_PAD.encode(all)
}

/// The authentic body of a token of `len` body bytes.
fn open(secret: &[u8], purpose: &[u8], token: &str, len: usize) -> Result<Vec<u8>, LinkError> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| LinkError::Malformed)?;
    if raw.len() != len + MAC_LEN {
        return Err(LinkError::Malformed);
    }
    let (body, tag) = raw.split_at(len);
    if !bool::from(mac(secret, purpose, body).as_slice().ct_eq(tag)) {
        return Err(LinkError::Forged);
    }
    Ok(body.to_vec())
}

/// A token for this conversation, valid until `expires`.
pub fn sign(secret: &[u8], conversation: ConversationId, expires: DateTime<Utc>) -> String {
    let mut body = conversation.0.as_bytes().to_vec();
    body.extend_from_slice(&u32::try_from(expires.timestamp().max(0)).unwrap_or(u32::MAX).to_be_bytes());
    seal(secret, TAKEOVER, body)
}

/// The conversation a token grants, if it is authentic and unexpired.
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<ConversationId, LinkError> {
    let body = open(secret, TAKEOVER, token, 20)?;
    let (id, exp) = body.split_at(16);
    let exp: [u8; 4] = exp.try_into().map_err(|_| LinkError::Malformed)?;
    if i64::from(u32::from_be_bytes(exp)) < now.timestamp() {
        return Err(LinkError::Expired);
    }
    let id = uuid::Uuid::from_slice(id).map_err(|_| LinkError::Malformed)?;
    Ok(ConversationId(id))
}

/// The tracked link's token for one review request.
pub fn sign_review(secret: &[u8], request: ReviewRequestId) -> String {
    seal(secret, REVIEW, request.0.as_bytes().to_vec())
}

/// The review request a tracked link belongs to, if the token is authentic.
pub fn verify_review(secret: &[u8], token: &str) -> Result<ReviewRequestId, LinkError> {
    let body = open(secret, REVIEW, token, 16)?;
    let id = uuid::Uuid::from_slice(&body).map_err(|_| LinkError::Malformed)?;
    Ok(ReviewRequestId(id))
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

    #[test]
    fn a_review_token_round_trips_and_is_short() {
        let r = ReviewRequestId::new();
        let t = sign_review(b"secret", r);
        assert!(t.len() <= 38, "{} chars", t.len());
        assert_eq!(verify_review(b"secret", &t), Ok(r));
        assert_eq!(verify_review(b"other", &t), Err(LinkError::Forged));
        let mut chars: Vec<char> = t.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        assert_eq!(verify_review(b"secret", &chars.into_iter().collect::<String>()), Err(LinkError::Forged));
        assert_eq!(verify_review(b"secret", "%%%"), Err(LinkError::Malformed));
    }

    #[test]
    fn a_takeover_token_is_no_review_token_and_the_reverse() {
        let id = uuid::Uuid::new_v4();
        let now = Utc::now();
        let takeover = sign(b"secret", ConversationId(id), now + LINK_TTL);
        assert!(verify_review(b"secret", &takeover).is_err());
        // Same id bytes, same secret: only the purpose differs.
        let review = sign_review(b"secret", ReviewRequestId(id));
        assert!(verify(b"secret", &review, now).is_err());
        let forged_review = seal(b"secret", TAKEOVER, id.as_bytes().to_vec());
        assert_eq!(verify_review(b"secret", &forged_review), Err(LinkError::Forged));
    }
}

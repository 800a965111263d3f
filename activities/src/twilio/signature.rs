//! `X-Twilio-Signature`: HMAC-SHA1 over the URL Twilio requested plus, for form
//! POSTs, every parameter's name and value sorted by name (Twilio's algorithm).

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Computes the signature Twilio would send for `url` and these form params.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = String::with_capacity(url.len() + 64 * sorted.len());
    data.push_str(url);
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC-SHA1.
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a received signature in constant time. Twilio signs inconsistently
/// with respect to explicit default ports, so, like its SDK, we accept the URL
/// with and without `:443`/`:80`.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], received: &str) -> bool {
    let received = received.trim().as_bytes();
    url_variants(url).iter().any(|u| {
        let expected = compute(auth_token, u, params);
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(received))
    })
}

fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let (scheme, default_port) = if url.starts_with("https://") {
        ("https://", ":443")
    } else if url.starts_with("http://") {
        ("http://", ":80")
    } else {
        return out;
    };
    let rest = &url[scheme.len()..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(host_end);
    if let Some(bare) = host.strip_suffix(default_port) {
        out.push(format!("{scheme}{bare}{tail}"));
    } else if !host.contains(':') {
        out.push(format!("{scheme}{host}{default_port}{tail}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    /// The vector from the official twilio-python request validator tests.
    #[test]
    fn matches_twilios_documented_example() {
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let sig = compute("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params);
        assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn verify_accepts_with_or_without_default_port_and_rejects_tampering() {
        let params = p(&[("From", "+15125550123"), ("To", "+15125550100")]);
        let sig = compute("tok", "https://x.example/webhook/voice/incoming", &params);
        assert!(verify("tok", "https://x.example/webhook/voice/incoming", &params, &sig));
        assert!(verify("tok", "https://x.example:443/webhook/voice/incoming", &params, &sig));
        assert!(!verify("other", "https://x.example/webhook/voice/incoming", &params, &sig));
        let tampered = p(&[("From", "+15125550124"), ("To", "+15125550100")]);
        assert!(!verify("tok", "https://x.example/webhook/voice/incoming", &tampered, &sig));
        assert!(!verify("tok", "https://x.example/webhook/voice/incoming", &params, ""));
    }

    #[test]
    fn repeated_names_are_signed_value_by_value_in_sorted_order() {
        let a = p(&[("MediaUrl", "b"), ("MediaUrl", "a")]);
        let b = p(&[("MediaUrl", "a"), ("MediaUrl", "b")]);
        assert_eq!(compute("t", "https://h/p", &a), compute("t", "https://h/p", &b));
    }
}

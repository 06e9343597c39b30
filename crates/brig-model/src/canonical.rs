//! Canonical JSON (RFC 8785, JCS): one byte string per value, so one hash per event.

use serde::Serialize;

/// Why a value has no canonical JSON form.
#[derive(Debug, thiserror::Error)]
#[error("cannot serialize as canonical JSON (RFC 8785): {0}")]
pub struct CanonicalError(String);

impl From<serde_json::Error> for CanonicalError {
    fn from(e: serde_json::Error) -> Self {
        CanonicalError(e.to_string())
    }
}

/// The RFC 8785 canonical JSON bytes of `value`: keys sorted by UTF-16 code units, no
/// insignificant whitespace, ECMAScript number formatting, minimal string escaping.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "\u{e9}": 1.0});
        assert_eq!(
            String::from_utf8(canonical_json(&v).unwrap()).unwrap(),
            "{\"a\":[true,null,\"x\"],\"b\":1,\"\u{e9}\":1}"
        );
    }

    #[test]
    fn rfc8785_numbers_and_escapes() {
        // Examples from RFC 8785 §3.2.2.3 and appendix B.
        let v = json!([1e21, 1e-7, 0.000001, 333333333.3333333, "\u{0f}\n\"/"]);
        assert_eq!(
            String::from_utf8(canonical_json(&v).unwrap()).unwrap(),
            "[1e+21,1e-7,0.000001,333333333.3333333,\"\\u000f\\n\\\"/\"]"
        );
    }
}

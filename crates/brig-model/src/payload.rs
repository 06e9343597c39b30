//! Payloads: the bulky, possibly sensitive parts of an event, kept out of the leaf.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes of random salt per blob.
pub const SALT_LEN: usize = 16;

/// What the leaf keeps of a payload: its salted digest and its size.
///
/// `salted_sha256` = SHA-256(salt ‖ content), hex. The salt lives beside the content in the
/// blob store, so erasing the blob also erases the only way to test a guess against the digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadRef {
    #[serde(with = "hex_digest")]
    pub salted_sha256: [u8; 32],
    pub size: u64,
}

/// A payload's content with its salt, as the blob store keeps it (keyed by the salted digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub digest: [u8; 32],
    pub salt: [u8; SALT_LEN],
    pub data: Vec<u8>,
}

impl Blob {
    /// Seals `data` under a fresh random salt, from the thread-local CSPRNG (ChaCha, seeded
    /// and periodically reseeded from the operating system): unpredictable, and without a
    /// system call per payload.
    pub fn seal(data: Vec<u8>) -> Self {
        let mut salt = [0u8; SALT_LEN];
        rand::fill(&mut salt);
        Self::seal_with_salt(data, salt)
    }

    pub fn seal_with_salt(data: Vec<u8>, salt: [u8; SALT_LEN]) -> Self {
        Blob {
            digest: salted_digest(&salt, &data),
            salt,
            data,
        }
    }

    pub fn payload_ref(&self) -> PayloadRef {
        PayloadRef {
            salted_sha256: self.digest,
            size: self.data.len() as u64,
        }
    }

    /// True when the content still matches the digest the leaf recorded.
    pub fn is_intact(&self) -> bool {
        salted_digest(&self.salt, &self.data) == self.digest
    }
}

fn salted_digest(salt: &[u8; SALT_LEN], data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(data);
    h.finalize().into()
}

mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(
                "salted_sha256 must be 64 lowercase hex digits",
            ));
        }
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_different_salt_different_digest() {
        let a = Blob::seal(b"secret".to_vec());
        let b = Blob::seal(b"secret".to_vec());
        assert_ne!(a.digest, b.digest);
        assert!(a.is_intact());
        let mut c = a.clone();
        c.data[0] ^= 1;
        assert!(!c.is_intact());
    }

    #[test]
    fn ref_serializes_as_hex() {
        let b = Blob::seal_with_salt(b"x".to_vec(), [0; SALT_LEN]);
        let j = serde_json::to_string(&b.payload_ref()).unwrap();
        assert!(j.starts_with("{\"salted_sha256\":\""), "{j}");
        assert_eq!(
            serde_json::from_str::<PayloadRef>(&j).unwrap(),
            b.payload_ref()
        );
    }
}

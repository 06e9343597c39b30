//! C2SP signed notes ([c2sp.org/signed-note]), the envelope around checkpoints.
//!
//! # Format
//!
//! A signed note is a text ending in a newline, a blank line, then one or more signature
//! lines:
//!
//! ```text
//! If you think cryptography is the answer to your problem,
//! then you don't know what your problem is.
//!
//! — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=
//! ```
//!
//! Each signature line is `— <key name> base64(key ID || signature)`: an em dash (U+2014),
//! a space, the key name, a space, and the base64 of the 4-byte big-endian key ID followed
//! by the signature bytes. The whole note must be valid UTF-8 without control characters
//! other than newline; the text is separated from the signatures by the *last* blank line
//! (the text itself may contain blank lines).
//!
//! # Keys
//!
//! A key is identified by its name *and* its 32-bit key ID,
//! `SHA-256(name || "\n" || type byte || public key)[:4]`. Two signature types are supported:
//!
//! * `0x01`, Ed25519 (signed-note spec): the signature is Ed25519 over the note text. This is
//!   what a log signs its checkpoints with, and what [`NoteSigner`] produces.
//! * `0x04`, Ed25519 witness cosignatures ([c2sp.org/tlog-cosignature]): the signature is an
//!   8-byte big-endian timestamp followed by Ed25519 over
//!   `"cosignature/v1\ntime <timestamp>\n" || note text` (see [`cosignature_message`]).
//!
//! Keys travel as text. A verifier key ("vkey") is `<name>+<hex key ID>+base64(type || public
//! key)`; a signer key ("skey") is `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)`.
//!
//! # Verification rules ([`open_note`])
//!
//! Per the spec: signatures from unknown keys (name and ID not both matching a configured
//! verifier) are ignored; a signature from a known key that fails to verify rejects the whole
//! note; a note with no verified signature from a known key is rejected.
//!
//! [c2sp.org/signed-note]: https://c2sp.org/signed-note
//! [c2sp.org/tlog-cosignature]: https://c2sp.org/tlog-cosignature

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Largest note [`parse_note`] accepts, in bytes. Checkpoints are a few hundred bytes; the
/// limit only stops a hostile input from costing unbounded memory and time.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Most signatures [`parse_note`] accepts. The spec requires accepting at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// Signature type byte of Ed25519 note signatures.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of Ed25519 `cosignature/v1` witness cosignatures.
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// Header line that domain-separates cosignatures from plain note signatures.
const COSIG_HEADER: &str = "cosignature/v1\n";
/// Prefix of every signature line: em dash, space.
const SIG_PREFIX: &str = "\u{2014} ";
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// What kind of signature a key makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 witness cosignature (tlog-cosignature).
    CosignatureV1,
}

impl KeyType {
    /// The signature type identifier byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => TYPE_ED25519,
            KeyType::CosignatureV1 => TYPE_COSIGNATURE_V1,
        }
    }

    fn from_byte(b: u8) -> Result<Self, NoteError> {
        match b {
            TYPE_ED25519 => Ok(KeyType::Ed25519),
            TYPE_COSIGNATURE_V1 => Ok(KeyType::CosignatureV1),
            other => Err(NoteError::UnknownKeyType(other)),
        }
    }

    /// Length of a signature of this type, after the 4-byte key ID.
    fn signature_len(self) -> usize {
        match self {
            KeyType::Ed25519 => 64,
            KeyType::CosignatureV1 => 8 + 64,
        }
    }
}

/// Everything that can be wrong with a key, a note or its signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidKeyName(String),
    #[error("malformed {kind} key: {reason}")]
    MalformedKey {
        kind: &'static str,
        reason: &'static str,
    },
    #[error("unknown signature type 0x{0:02x} (supported: 0x01 Ed25519, 0x04 cosignature/v1)")]
    UnknownKeyType(u8),
    #[error("key of type 0x{key_type:02x} has {got} bytes of key material, expected {want}")]
    WrongKeyLength {
        key_type: u8,
        got: usize,
        want: usize,
    },
    #[error(
        "key {name}: stated key ID {stated:08x} does not match the key (computed {computed:08x})"
    )]
    KeyIdMismatch {
        name: String,
        stated: u32,
        computed: u32,
    },
    #[error("key {name}: the public key is not a valid Ed25519 point")]
    InvalidPublicKey { name: String },
    #[error("cannot sign: {0}")]
    InvalidText(&'static str),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("note is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("note has more than {max} signatures")]
    TooManySignatures { max: usize },
    #[error("signature by known key {name} (ID {key_id:08x}) does not verify: {reason}")]
    InvalidSignature {
        name: String,
        key_id: u32,
        reason: &'static str,
    },
    #[error(
        "no signature from a known key: note signed by [{}], known keys [{}]",
        .signed_by.join(", "),
        .known.join(", ")
    )]
    NoVerifiedSignature {
        /// `name+keyid` of each signature in the note.
        signed_by: Vec<String>,
        /// `name+keyid` of each configured verifier.
        known: Vec<String>,
    },
    #[error("no randomness for key generation: {0}")]
    Random(String),
}

/// The key ID of a key: `SHA-256(name || "\n" || key_type || public_key)[:4]`, big-endian.
pub fn key_id(name: &str, key_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([key_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key names must be non-empty, without Unicode spaces or '+' (signed-note). Control
/// characters are refused too: a note may not contain them, so such a key could never sign.
fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(NoteError::InvalidKeyName(name.to_string()));
    }
    Ok(())
}

/// Parses the 8-hex-digit key ID of a vkey or skey.
fn parse_key_id(s: &str, kind: &'static str) -> Result<u32, NoteError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey {
            kind,
            reason: "the key ID must be 8 hex digits",
        });
    }
    u32::from_str_radix(s, 16).map_err(|_| NoteError::MalformedKey {
        kind,
        reason: "the key ID must be 8 hex digits",
    })
}

/// Verifies notes signed by one key: an Ed25519 log key (`0x01`) or an Ed25519 witness
/// cosigner (`0x04`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key_type: KeyType,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `public_key` (32 bytes of Ed25519) under `name`; the key ID is
    /// computed.
    pub fn new(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key =
            VerifyingKey::from_bytes(public_key).map_err(|_| NoteError::InvalidPublicKey {
                name: name.to_string(),
            })?;
        Ok(NoteVerifier {
            name: name.to_string(),
            key_id: key_id(name, key_type.byte(), public_key),
            key_type,
            key,
        })
    }

    /// Parses a verifier key, `<name>+<hex8 key ID>+base64(type || public key)`. Rejects a
    /// bad name, a key ID that does not match the key, key material of the wrong length and
    /// unknown types. Accepts types `0x01` (Ed25519) and `0x04` (cosignature/v1).
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        const KIND: &str = "verifier";
        // The name cannot contain '+', base64 can: split at the first two.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey {
                kind: KIND,
                reason: "expected <name>+<key ID>+<base64 key>",
            });
        };
        check_key_name(name)?;
        let stated = parse_key_id(id, KIND)?;
        let raw = B64.decode(b64).map_err(|_| NoteError::MalformedKey {
            kind: KIND,
            reason: "the key is not valid base64",
        })?;
        let Some((&type_byte, material)) = raw.split_first() else {
            return Err(NoteError::MalformedKey {
                kind: KIND,
                reason: "the key is empty",
            });
        };
        let key_type = KeyType::from_byte(type_byte)?;
        let bytes: &[u8; 32] = material.try_into().map_err(|_| NoteError::WrongKeyLength {
            key_type: type_byte,
            got: material.len(),
            want: 32,
        })?;
        let v = NoteVerifier::new(name, key_type, bytes)?;
        if v.key_id != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_string(),
                stated,
                computed: v.key_id,
            });
        }
        Ok(v)
    }

    /// The verifier key text, as [`NoteVerifier::from_vkey`] reads it.
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.key_type.byte());
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The same public key and name as a verifier of another signature type, with the key
    /// ID recomputed for that type. Witness cosigner keys are often distributed as `0x01`
    /// Ed25519 vkeys; `v.with_key_type(KeyType::CosignatureV1)` gives the verifier of that
    /// witness's `cosignature/v1` signatures.
    pub fn with_key_type(&self, key_type: KeyType) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: key_id(&self.name, key_type.byte(), self.key.as_bytes()),
            key_type,
            key: self.key,
        }
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Checks `sig` (the signature bytes after the key ID) over note `text`. Returns the
    /// cosignature timestamp for `0x04` keys.
    fn verify(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, &'static str> {
        if sig.len() != self.key_type.signature_len() {
            return Err("wrong signature length for the key type");
        }
        match self.key_type {
            KeyType::Ed25519 => {
                let s = Signature::from_slice(sig).map_err(|_| "malformed Ed25519 signature")?;
                // verify_strict: rejects non-canonical and small-order encodings, so one
                // message has one valid signature per key.
                self.key
                    .verify_strict(text.as_bytes(), &s)
                    .map_err(|_| "Ed25519 verification failed")?;
                Ok(None)
            }
            KeyType::CosignatureV1 => {
                let ts = cosignature_timestamp(sig).ok_or("malformed cosignature timestamp")?;
                let s =
                    Signature::from_slice(&sig[8..]).map_err(|_| "malformed Ed25519 signature")?;
                self.key
                    .verify_strict(cosignature_message(text, ts).as_bytes(), &s)
                    .map_err(|_| "Ed25519 cosignature verification failed")?;
                Ok(Some(ts))
            }
        }
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }
}

/// The message an Ed25519 `cosignature/v1` signs (tlog-cosignature, "Ed25519 signed
/// message"): `"cosignature/v1\n"`, `"time <timestamp>\n"`, then the whole note text.
pub fn cosignature_message(text: &str, timestamp: u64) -> String {
    format!("{COSIG_HEADER}time {timestamp}\n{text}")
}

/// The timestamp of an Ed25519 `cosignature/v1`, given the signature bytes *after* the
/// 4-byte key ID (what [`NoteSignature::sig`] holds): exactly 8 bytes of big-endian POSIX
/// seconds plus a 64-byte Ed25519 signature. `None` if it has any other length (a plain
/// `0x01` signature is 64 bytes) or the timestamp exceeds 2^63 - 1, which the spec forbids.
pub fn cosignature_timestamp(sig: &[u8]) -> Option<u64> {
    if sig.len() != KeyType::CosignatureV1.signature_len() {
        return None;
    }
    let ts = u64::from_be_bytes(sig[..8].try_into().ok()?);
    (ts <= i64::MAX as u64).then_some(ts)
}

/// Signs notes with an Ed25519 key (signature type `0x01`).
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    // Never print the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A new random key named `name`, seeded from the operating system's generator.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| NoteError::Random(e.to_string()))?;
        let s = NoteSigner::from_seed(name, seed);
        seed.fill(0);
        s
    }

    /// The key with this 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, TYPE_ED25519, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_string(),
            key_id,
            key,
        })
    }

    /// Parses a signer key, `PRIVATE+KEY+<name>+<hex8 key ID>+base64(0x01 || seed)`, and
    /// checks that the key ID matches the key.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        const KIND: &str = "signer";
        let rest = skey
            .strip_prefix(SKEY_PREFIX)
            .ok_or(NoteError::MalformedKey {
                kind: KIND,
                reason: "it must start with PRIVATE+KEY+",
            })?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey {
                kind: KIND,
                reason: "expected PRIVATE+KEY+<name>+<key ID>+<base64 key>",
            });
        };
        check_key_name(name)?;
        let stated = parse_key_id(id, KIND)?;
        let mut raw = B64.decode(b64).map_err(|_| NoteError::MalformedKey {
            kind: KIND,
            reason: "the key is not valid base64",
        })?;
        let result = match raw.split_first() {
            None => Err(NoteError::MalformedKey {
                kind: KIND,
                reason: "the key is empty",
            }),
            Some((&TYPE_ED25519, seed)) => match <[u8; 32]>::try_from(seed) {
                Ok(seed) => NoteSigner::from_seed(name, seed),
                Err(_) => Err(NoteError::WrongKeyLength {
                    key_type: TYPE_ED25519,
                    got: seed.len(),
                    want: 32,
                }),
            },
            Some((&other, _)) => Err(NoteError::UnknownKeyType(other)),
        };
        raw.fill(0);
        let signer = result?;
        if signer.key_id != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_string(),
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The signer key text, as [`NoteSigner::from_skey`] reads it. It holds the secret.
    pub fn to_skey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(TYPE_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        let s = format!(
            "{SKEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(&raw)
        );
        raw.fill(0);
        s
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: KeyType::Ed25519,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` and returns the whole signed note: the text, a blank line and this key's
    /// signature line. The text must be non-empty, end in a newline and contain no control
    /// characters other than newline, or the result would not parse back.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let line = NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            sig: sig.to_bytes().to_vec(),
        }
        .to_line();
        let mut out = String::with_capacity(text.len() + 1 + line.len());
        out.push_str(text);
        out.push('\n');
        out.push_str(&line);
        Ok(out)
    }
}

/// A note text must be able to round-trip through a signed note.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::InvalidText(
            "the note text must end with a newline",
        ));
    }
    if text.chars().any(|c| c != '\n' && (c as u32) < 0x20) {
        return Err(NoteError::InvalidText(
            "the note text must not contain control characters other than newline",
        ));
    }
    // Leave room for a good number of signature lines under the parse limit.
    if text.len() > MAX_NOTE_BYTES / 2 {
        return Err(NoteError::InvalidText("the note text is too large"));
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID (the first four bytes of the decoded signature).
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, `— <name> base64(key ID || sig)\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.sig.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.sig);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// The cosignature timestamp, if this has the shape of a `cosignature/v1` (see
    /// [`cosignature_timestamp`]). Shape only: nothing is verified.
    pub fn cosignature_timestamp(&self) -> Option<u64> {
        cosignature_timestamp(&self.sig)
    }
}

/// A parsed, *unverified* note. Do not act on its text; use [`open_note`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text, including its final newline but not the blank separator line.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// The signed note, byte for byte as it was parsed (base64 decoding is canonical, so
    /// re-encoding gives back the same characters).
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }
}

/// Parses a signed note without verifying anything: valid UTF-8, no control characters but
/// newline, text separated from the signatures by the last blank line, every signature line
/// well-formed. At most [`MAX_NOTE_BYTES`] bytes and [`MAX_SIGNATURES`] signatures.
pub fn parse_note(bytes: &[u8]) -> Result<Note, NoteError> {
    if bytes.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            size: bytes.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    let s = std::str::from_utf8(bytes).map_err(|e| {
        NoteError::Malformed(format!("not valid UTF-8 (at byte {})", e.valid_up_to()))
    })?;
    if let Some(pos) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::Malformed(format!(
            "control character 0x{:02x} at byte {pos}",
            bytes[pos]
        )));
    }
    // Signature lines never contain a blank line, so the last "\n\n" is the separator.
    let split = s.rfind("\n\n").ok_or_else(|| {
        NoteError::Malformed("no blank line separating the text from the signatures".into())
    })?;
    let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
    if sigs.is_empty() {
        return Err(NoteError::Malformed("no signature lines".into()));
    }
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the last signature line does not end with a newline".into(),
        ));
    }
    let text_lines = text.matches('\n').count();
    let mut signatures = Vec::new();
    for (i, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
        // 1-based line number in the whole note: text lines, the blank line, then these.
        let line_no = text_lines + 2 + i;
        if signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        signatures.push(parse_signature_line(line).map_err(|reason| {
            NoteError::Malformed(format!("signature line {line_no}: {reason}"))
        })?);
    }
    Ok(Note {
        text: text.to_string(),
        signatures,
    })
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, &'static str> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or("does not start with an em dash (U+2014) and a space")?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or("expected <key name> <base64 signature>")?;
    check_key_name(name).map_err(|_| "invalid key name")?;
    if b64.is_empty() {
        return Err("empty signature");
    }
    let raw = B64
        .decode(b64)
        .map_err(|_| "signature is not valid base64")?;
    if raw.len() < 5 {
        return Err("signature too short: it needs a 4-byte key ID and signature bytes");
    }
    Ok(NoteSignature {
        name: name.to_string(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        sig: raw[4..].to_vec(),
    })
}

/// A signature that [`open_note`] verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub name: String,
    pub key_id: u32,
    pub key_type: KeyType,
    /// The cosignature time (POSIX seconds) for `0x04` cosignatures, `None` for `0x01`.
    pub timestamp: Option<u64>,
}

/// A note whose signatures from the given keys verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The note text (now trustworthy, as far as the verifying keys are trusted).
    pub text: String,
    /// Names of the keys that verified, in signature order, each once.
    pub verified_by: Vec<String>,
    /// Details of each verified signature, in signature order.
    pub signatures: Vec<VerifiedSignature>,
    /// Signatures from keys not among the verifiers: ignored, as the spec requires.
    pub unverified: Vec<NoteSignature>,
}

/// Parses a signed note and verifies it against `verifiers`, with the spec's semantics:
///
/// * a signature whose name and key ID do not both match a verifier is ignored (kept in
///   [`VerifiedNote::unverified`]);
/// * a signature from a matching verifier must verify, or the whole note is rejected
///   ([`NoteError::InvalidSignature`]); every such signature is checked, repeats included;
/// * at least one signature must verify ([`NoteError::NoVerifiedSignature`]).
///
/// If several verifiers share a name and key ID, the first one is used.
pub fn open_note(bytes: &[u8], verifiers: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
    let note = parse_note(bytes)?;
    let mut out = VerifiedNote {
        text: String::new(),
        verified_by: Vec::new(),
        signatures: Vec::new(),
        unverified: Vec::new(),
    };
    for sig in note.signatures {
        let Some(v) = verifiers
            .iter()
            .find(|v| v.name == sig.name && v.key_id == sig.key_id)
        else {
            out.unverified.push(sig);
            continue;
        };
        let timestamp =
            v.verify(&note.text, &sig.sig)
                .map_err(|reason| NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                    reason,
                })?;
        if out
            .signatures
            .iter()
            .any(|s| s.name == sig.name && s.key_id == sig.key_id)
        {
            continue;
        }
        if !out.verified_by.contains(&sig.name) {
            out.verified_by.push(sig.name.clone());
        }
        out.signatures.push(VerifiedSignature {
            name: sig.name,
            key_id: sig.key_id,
            key_type: v.key_type,
            timestamp,
        });
    }
    if out.signatures.is_empty() {
        return Err(NoteError::NoVerifiedSignature {
            signed_by: out
                .unverified
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect(),
            known: verifiers.iter().map(NoteVerifier::label).collect(),
        });
    }
    out.text = note.text;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{00a0}b",
            "a\u{2003}b",
            "a\u{7f}",
        ] {
            assert!(check_key_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["example.com/log", "PeterNeumann", "é"] {
            check_key_name(good).unwrap();
        }
    }

    #[test]
    fn sign_rejects_bad_text() {
        let s = NoteSigner::from_seed("k", [7; 32]).unwrap();
        assert!(s.sign("").is_err());
        assert!(s.sign("no newline").is_err());
        assert!(s.sign("tab\there\n").is_err());
        let note = s.sign("blank\n\nline inside\n\n").unwrap();
        let opened = open_note(note.as_bytes(), &[s.verifier()]).unwrap();
        assert_eq!(opened.text, "blank\n\nline inside\n\n");
    }

    #[test]
    fn debug_hides_secret() {
        let s = NoteSigner::from_seed("k", [7; 32]).unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains(&B64.encode([7u8; 32])) && !d.contains("0707"));
    }
}

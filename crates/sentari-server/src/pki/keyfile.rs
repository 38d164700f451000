//! The CA key at rest: encrypted PKCS#8 PEM that `openssl pkey -passin pass:…` reads.
//!
//! PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC is the scheme OpenSSL itself writes for
//! `openssl pkey -aes256`, so operators can inspect, back up and re-encrypt the key with the
//! standard tool as the admin guide describes.

use pkcs8::der::Decode;
use pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo};
use rand::RngExt;
use rcgen::KeyPair;
use rustls::pki_types::PrivatePkcs8KeyDer;

/// PBKDF2 rounds: slow enough to make guessing expensive, fast enough for a server start.
const PBKDF2_ROUNDS: u32 = 100_000;

/// Encrypts a key pair under `passphrase` as an `ENCRYPTED PRIVATE KEY` PEM.
pub fn encrypt(key: &KeyPair, passphrase: &str) -> Result<String, String> {
    let der = key.serialize_der();
    encrypt_der(&der, passphrase)
}

/// Encrypts plain PKCS#8 DER under `passphrase`.
pub fn encrypt_der(der: &[u8], passphrase: &str) -> Result<String, String> {
    if passphrase.is_empty() {
        return Err("the passphrase is empty".into());
    }
    let info = PrivateKeyInfo::from_der(der).map_err(|e| e.to_string())?;
    let salt: [u8; 16] = rand::rng().random();
    let iv: [u8; 16] = rand::rng().random();
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ROUNDS, &salt, &iv)
            .map_err(|e| e.to_string())?;
    let doc = info
        .encrypt_with_params(params, passphrase.as_bytes())
        .map_err(|e| e.to_string())?;
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map(|p| p.to_string())
        .map_err(|e| e.to_string())
}

/// Decrypts an `ENCRYPTED PRIVATE KEY` PEM to plain PKCS#8 DER.
pub fn decrypt_der(pem: &str, passphrase: &str) -> Result<Vec<u8>, String> {
    let (label, doc) = pkcs8::der::Document::from_pem(pem)
        .map_err(|e| format!("the file is not a PEM key ({e})"))?;
    if label != "ENCRYPTED PRIVATE KEY" {
        return Err(format!("expected an ENCRYPTED PRIVATE KEY, found {label}"));
    }
    let info = EncryptedPrivateKeyInfo::from_der(doc.as_bytes())
        .map_err(|e| format!("the key file is corrupt ({e})"))?;
    let plain = info
        .decrypt(passphrase.as_bytes())
        .map_err(|_| "wrong passphrase or corrupt key".to_owned())?;
    Ok(plain.as_bytes().to_vec())
}

/// Decrypts the CA key and loads it for signing.
pub fn decrypt(pem: &str, passphrase: &str) -> Result<KeyPair, String> {
    let der = decrypt_der(pem, passphrase)?;
    let pkcs8 = PrivatePkcs8KeyDer::from(der);
    for alg in [
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ECDSA_P256_SHA256,
    ] {
        if let Ok(k) = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, alg) {
            return Ok(k);
        }
    }
    Err("the key is neither RSA nor ECDSA P-384/P-256".into())
}

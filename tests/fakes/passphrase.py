"""Pulumi's passphrase secrets manager, reproduced for the stand-in `pulumi` and
the tests (no cryptography package is installed, so AES-256-GCM is written out
here; the tests hold it against NIST's published vectors).

What Pulumi does (pulumi/pulumi v3.259.0):
- pkg/secrets/passphrase/manager.go, NewPassphraseSecretsManager: a random
  8-byte salt; the state is `v1:<base64 salt>:<EncryptValue("pulumi")>`, stored
  as the stack's `encryptionsalt`; symmetricCrypterFromPhraseAndState checks a
  passphrase by decrypting the part after the second colon back to "pulumi"
  (ErrIncorrectPassphrase otherwise).
- sdk/go/common/resource/config/crypt.go: the key is PBKDF2-SHA256 of the
  passphrase and salt, 1,000,000 iterations, 32 bytes; EncryptValue is
  AES-256-GCM with a random 12-byte nonce and no additional data, written
  `v1:<base64 nonce>:<base64 ciphertext and tag>` (Go's Seal appends the tag).
- readPassphrase: PULUMI_CONFIG_PASSPHRASE if it is set at all, even empty;
  otherwise the trimmed contents of PULUMI_CONFIG_PASSPHRASE_FILE if that is
  set and not empty; otherwise a prompt, or, without a terminal, an error.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

PBKDF2_ITERATIONS = 1_000_000
CHECK_PLAINTEXT = "pulumi"
NO_PASSPHRASE = (
    "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
)


def _sbox() -> list[int]:
    """AES's S-box (FIPS-197 5.1.1): the inverse in GF(2^8), then the affine map."""

    def multiply(a: int, b: int) -> int:
        product = 0
        while b:
            if b & 1:
                product ^= a
            a = ((a << 1) ^ 0x11B) if a & 0x80 else a << 1
            b >>= 1
        return product

    box = []
    for value in range(256):
        inverse = next((c for c in range(1, 256) if multiply(value, c) == 1), 0)
        rotated = [((inverse << shift) | (inverse >> (8 - shift))) & 0xFF for shift in range(1, 5)]
        box.append(inverse ^ rotated[0] ^ rotated[1] ^ rotated[2] ^ rotated[3] ^ 0x63)
    return box


SBOX = _sbox()


def _xtime(byte: int) -> int:
    return ((byte << 1) ^ 0x11B) & 0xFF if byte & 0x80 else byte << 1


def _round_keys(key: bytes) -> list[list[int]]:
    """AES-256 key expansion (FIPS-197 5.2): 15 round keys of 16 bytes."""
    assert len(key) == 32
    words = [list(key[i : i + 4]) for i in range(0, 32, 4)]
    rcon = 1
    for i in range(8, 60):
        word = list(words[i - 1])
        if i % 8 == 0:
            word = [SBOX[b] for b in word[1:] + word[:1]]
            word[0] ^= rcon
            rcon = _xtime(rcon)
        elif i % 8 == 4:
            word = [SBOX[b] for b in word]
        words.append([a ^ b for a, b in zip(words[i - 8], word, strict=True)])
    return [[byte for word in words[r * 4 : r * 4 + 4] for byte in word] for r in range(15)]


def aes256_encrypt_block(key: bytes, block: bytes) -> bytes:
    """One AES-256 block (FIPS-197 5.1); the state is column-major, byte i at row i % 4."""
    keys = _round_keys(key)
    state = [b ^ k for b, k in zip(block, keys[0], strict=True)]
    for round_number in range(1, 15):
        state = [SBOX[b] for b in state]
        state = [state[(i + 4 * (i % 4)) % 16] for i in range(16)]  # ShiftRows
        if round_number != 14:
            mixed = []
            for column in range(4):
                a = state[column * 4 : column * 4 + 4]
                total = a[0] ^ a[1] ^ a[2] ^ a[3]
                mixed += [a[row] ^ total ^ _xtime(a[row] ^ a[(row + 1) % 4]) for row in range(4)]
            state = mixed
        state = [b ^ k for b, k in zip(state, keys[round_number], strict=True)]
    return bytes(state)


def _ghash_multiply(x: int, y: int) -> int:
    """Multiplication in GCM's GF(2^128) (NIST SP 800-38D, 6.3)."""
    product, v = 0, y
    for bit in range(127, -1, -1):
        if (x >> bit) & 1:
            product ^= v
        v = (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1
    return product


def _gcm(key: bytes, nonce: bytes, data: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM's counter mode with a 12-byte nonce (SP 800-38D, 7.1): `data`
    XOR the key stream from inc32(J0) on, and E(K, J0), which masks the tag."""
    assert len(nonce) == 12
    counter = int.from_bytes(nonce + b"\0\0\0\1", "big")
    stream = b"".join(
        aes256_encrypt_block(key, (counter + 1 + i).to_bytes(16, "big")) for i in range((len(data) + 15) // 16)
    )
    return bytes(a ^ b for a, b in zip(data, stream, strict=False)), aes256_encrypt_block(
        key, counter.to_bytes(16, "big")
    )


def _tag(key: bytes, tag_mask: bytes, ciphertext: bytes) -> bytes:
    h = int.from_bytes(aes256_encrypt_block(key, bytes(16)), "big")
    padded = ciphertext + bytes(-len(ciphertext) % 16)
    blocks = [padded[i : i + 16] for i in range(0, len(padded), 16)] + [(len(ciphertext) * 8).to_bytes(16, "big")]
    accumulator = 0
    for block in blocks:
        accumulator = _ghash_multiply(accumulator ^ int.from_bytes(block, "big"), h)
    return bytes(a ^ b for a, b in zip(accumulator.to_bytes(16, "big"), tag_mask, strict=True))


def gcm_seal(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """Go's cipher.AEAD Seal: ciphertext followed by the 16-byte tag."""
    ciphertext, mask = _gcm(key, nonce, plaintext)
    return ciphertext + _tag(key, mask, ciphertext)


def gcm_open(key: bytes, nonce: bytes, sealed: bytes) -> bytes | None:
    """Go's Open: the plaintext, or None when the tag does not match."""
    ciphertext, tag = sealed[:-16], sealed[-16:]
    plaintext, mask = _gcm(key, nonce, ciphertext)
    return plaintext if _tag(key, mask, ciphertext) == tag else None


def derive_key(passphrase: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, PBKDF2_ITERATIONS, 32)


def new_encryption_salt(passphrase: str) -> str:
    """What NewPassphraseSecretsManager stores as `encryptionsalt`."""
    salt, nonce = secrets.token_bytes(8), secrets.token_bytes(12)
    sealed = gcm_seal(derive_key(passphrase, salt), nonce, CHECK_PLAINTEXT.encode())
    encode = base64.b64encode
    return f"v1:{encode(salt).decode()}:v1:{encode(nonce).decode()}:{encode(sealed).decode()}"


def opens(encryption_salt: str, passphrase: str) -> bool:
    """Whether `passphrase` unlocks a stack with this `encryptionsalt`."""
    version, salt, check = encryption_salt.split(":", 2)
    check_version, nonce, sealed = check.split(":")
    if version != "v1" or check_version != "v1":
        return False
    key = derive_key(passphrase, base64.b64decode(salt))
    return gcm_open(key, base64.b64decode(nonce), base64.b64decode(sealed)) == CHECK_PLAINTEXT.encode()


def read_passphrase(environ: Mapping[str, str]) -> str | None:
    """The passphrase the CLI would use without a terminal, or None (its error then)."""
    if "PULUMI_CONFIG_PASSPHRASE" in environ:
        return environ["PULUMI_CONFIG_PASSPHRASE"]
    if environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return Path(os.path.abspath(environ["PULUMI_CONFIG_PASSPHRASE_FILE"])).read_text().strip()
    return None

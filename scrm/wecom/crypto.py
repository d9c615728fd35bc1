"""WeCom callback crypto (接收消息与事件 加解密), our own implementation.

msg_signature = sha1(sorted([token, timestamp, nonce, encrypt]) joined);
AES-256-CBC, key = base64(EncodingAESKey + "="), IV = key[:16];
plaintext = random(16) + big-endian length(4) + msg + receive id (the corp id);
PKCS#7 padding to a multiple of 32 bytes.
"""

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CallbackCryptoError(Exception):
    """The body cannot be decrypted or belongs to another corp (HTTP 400)."""


class CallbackSignatureError(Exception):
    """msg_signature does not match (HTTP 403)."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()  # noqa: S324


class CallbackCrypto:
    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        self.token = token
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.receive_id = receive_id

    def verify(self, *, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, msg_signature or ""):
            raise CallbackSignatureError("msg_signature mismatch")

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except ValueError as exc:
            raise CallbackCryptoError("ciphertext is not base64") from exc
        if not data or len(data) % 16:
            raise CallbackCryptoError("ciphertext length is not a multiple of the block size")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise CallbackCryptoError("bad padding (wrong EncodingAESKey?)")
        plain = padded[:-pad]
        if len(plain) < 20:
            raise CallbackCryptoError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise CallbackCryptoError("message length field does not match")
        if receive_id.decode(errors="replace") != self.receive_id:
            raise CallbackCryptoError("message is for another corp")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise CallbackCryptoError("message is not UTF-8") from exc

    def encrypt(self, message: str) -> str:
        body = message.encode()
        plain = os.urandom(16) + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def verify_and_decrypt(
        self, *, msg_signature: str, timestamp: str, nonce: str, encrypted: str
    ) -> str:
        self.verify(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypted=encrypted
        )
        return self.decrypt(encrypted)

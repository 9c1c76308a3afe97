"""Service identity: what one service tells another is signed with the teller's own key.

Each service holds an Ed25519 private key, and knows the public keys of the others. A call over
HTTP carries a JWT (EdDSA) that the caller made for that callee alone (``aud``), good for
``service_token_s`` seconds, naming the caller (``iss``) and the user it acts for (``sub``). An
event that changes what code runs or what a caller sees is signed over its id, type, source and
body (``services.contracts.envelope.signed_bytes``).

Keys come from settings, as a cluster's Secrets give them: ``FEATHER_SERVICE_KEY`` (this
service's private key, PEM) and ``FEATHER_SERVICE_KEYS`` (JSON: service name to public key PEM).
Unset, a service makes its own key in the data folder (``keys/<name>.pem``, its alone) and puts
its public half beside it (``keys/<name>.pub``), where the others on the same machine read it:
``feather up`` needs no configuration, and services sharing no folder and given no keys trust
nobody.
"""
from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.kit.settings import Settings

__all__ = ["Caller", "Identity", "Untrusted", "new_key_pair"]
LEEWAY_S = 5  # clocks of one cluster agree this well
VERIFIED_KEEP = 4096  # signatures that held, remembered so a second consumer of an event need not check again


class Untrusted(Exception):
    """A token or signature that does not prove who made it."""


@dataclass(frozen=True)
class Caller:
    service: str
    user: str | None


def new_key_pair() -> tuple[str, str]:
    """A private key and its public key, both PEM, for a service's settings."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return private, _public_pem(key.public_key())


def _public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Identity:
    def __init__(self, service: str, key: Ed25519PrivateKey, public: dict[str, Ed25519PublicKey],
                 folder: Path | None = None, token_s: int = 30) -> None:
        self.service = service
        self._key = key
        self._public = public
        self._folder = folder  # where the others' public keys are looked up when not configured
        self.token_s = token_s
        self._tokens: dict[tuple[str, str | None], tuple[float, str]] = {}
        self._lock = threading.Lock()
        # signatures that held: a service reads one event in several consumers (the gateway reads
        # each run's end three times), and checking an Ed25519 signature costs more than the rest
        # of reading the event; a replayed event is still refused by id where it matters
        self._verified: collections.OrderedDict[tuple[str, str, bytes], None] = collections.OrderedDict()

    @classmethod
    def of(cls, service: str, settings: Settings) -> Identity:
        public = {name: _load_public(pem, name) for name, pem in settings.service_keys.items()}
        if settings.service_key:
            try:
                key = serialization.load_pem_private_key(settings.service_key.encode(), password=None)
            except ValueError as exc:
                raise ValueError(f"FEATHER_SERVICE_KEY is not a PEM private key: {exc}") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("FEATHER_SERVICE_KEY must be an Ed25519 key")
            return cls(service, key, public, None, settings.service_token_s)
        folder = settings.data_dir / "keys"
        return cls(service, _own_key(folder, service), public, None if public else folder, settings.service_token_s)

    # HTTP
    def token(self, audience: str, user: str | None = None) -> str:
        """A token for a call to ``audience`` acting for ``user``; reused while it has more than
        half its life left, since signing each call would cost more than it proves."""
        now = time.time()
        with self._lock:
            made = self._tokens.get((audience, user))
            if made is not None and made[0] - now > self.token_s / 2:
                return made[1]
        claims = {"iss": self.service, "aud": audience, "iat": int(now), "exp": int(now) + self.token_s,
                  **({"sub": user} if user is not None else {})}
        token = jwt.encode(claims, self._key, algorithm="EdDSA")
        with self._lock:
            if len(self._tokens) > 10_000:  # one per user acted for: bounded
                self._tokens.clear()
            self._tokens[(audience, user)] = (now + self.token_s, token)
        return token

    def headers(self, audience: str, user: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(audience, user)}"}

    def caller(self, token: str, callers: frozenset[str]) -> Caller:
        """Who made ``token`` for this service; Untrusted unless one of ``callers`` did, lately."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise Untrusted(f"not a service token: {exc}") from None
        if not isinstance(issuer, str) or issuer not in callers:
            raise Untrusted(f"{self.service} takes calls from {', '.join(sorted(callers))} only")
        key = self.public_key(issuer)
        if key is None:
            raise Untrusted(f"no public key of {issuer} is known here")
        try:
            claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=self.service, issuer=issuer,
                                leeway=LEEWAY_S, options={"require": ["exp", "iat", "aud", "iss"]})
        except jwt.PyJWTError as exc:
            raise Untrusted(f"the token of {issuer} does not hold: {exc}") from None
        if claims["exp"] - claims["iat"] > 60:
            raise Untrusted("a service token lives a minute at most")
        user = claims.get("sub")
        return Caller(issuer, user if isinstance(user, str) else None)

    # events
    def sign(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(self._key.sign(data)).decode().rstrip("=")

    def signed_by(self, service: str, data: bytes, signature: str) -> bool:
        seen = (service, signature, hashlib.blake2b(data, digest_size=32).digest())
        if seen in self._verified:
            self._verified.move_to_end(seen)
            return True
        key = self.public_key(service)
        if key is None:
            return False
        try:
            key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), data)
        except (InvalidSignature, ValueError):
            return False
        self._verified[seen] = None
        if len(self._verified) > VERIFIED_KEEP:
            self._verified.popitem(last=False)
        return True

    def public_key(self, service: str) -> Ed25519PublicKey | None:
        if service == self.service:
            return self._key.public_key()
        found = self._public.get(service)
        if found is None and self._folder is not None and service.isidentifier():
            with contextlib.suppress(OSError, ValueError):
                found = _load_public((self._folder / f"{service}.pub").read_text(), service)
                self._public[service] = found  # a service's key lives as long as its data folder
        return found


def _load_public(pem: str, name: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError(f"the public key of {name} is not PEM: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the public key of {name} must be an Ed25519 key")
    return key


def _own_key(folder: Path, service: str) -> Ed25519PrivateKey:
    """This service's key in ``folder``, made the first time; its public half beside it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{service}.pem"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        private, public = new_key_pair()
        _write_new(path, private.encode(), 0o600)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)  # whoever won a race
    assert isinstance(key, Ed25519PrivateKey), f"{path} is not an Ed25519 key"
    pub = folder / f"{service}.pub"
    pem = _public_pem(key.public_key()).encode()
    if not pub.exists() or pub.read_bytes() != pem:
        tmp = pub.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        os.replace(tmp, pub)
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` only if it does not exist yet (two processes starting at once keep one key)."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    try:
        os.link(tmp, path)  # fails if another process made it first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)

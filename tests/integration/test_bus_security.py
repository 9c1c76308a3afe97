"""The bus's TLS and SASL/SCRAM settings, and what the embedded broker lets us show of them.

Tansu 0.6 with --authentication refuses clients that do not authenticate, and takes SCRAM-SHA-512
handshakes; it cannot complete one here, because its memory storage holds no users once
authentication is on (users are created through the broker, which then refuses the creator), and
its --cert and --key options exclude each other, so it serves no TLS. So: a plaintext service is
refused by that broker, one set up for SCRAM speaks SCRAM to it and an unknown user is refused; a
successful login and TLS are shown only as the client options every connection gets."""
from __future__ import annotations

import asyncio
import datetime
import ssl

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from brokers import Tansu
from pydantic import ValidationError

from services.kit.bus import Bus
from services.kit.kafka_security import client_options
from services.kit.settings import Settings


@pytest.fixture(scope="module")
def guarded():
    broker = Tansu("--authentication")
    broker.start()
    print(f"\nbroker: Tansu with --authentication at {broker.bootstrap} (SCRAM users cannot be created in its "
          "memory storage, nor TLS served: a completed login and TLS are checked as client options only)")
    yield broker
    broker.stop()


async def _connects(settings: Settings) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=3000,
                                **client_options(settings))
    try:
        await asyncio.wait_for(admin.start(), 10)
        await admin.list_topics()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await admin.close()


async def test_a_broker_that_requires_authentication_refuses_plaintext_and_an_unknown_scram_user(guarded) -> None:
    plain = Settings(kafka_bootstrap=guarded.bootstrap)
    assert await _connects(plain) is not None
    scram = Settings(kafka_bootstrap=guarded.bootstrap, kafka_security_protocol="SASL_PLAINTEXT",
                     kafka_sasl_username="executor", kafka_sasl_password="not known here")
    assert client_options(scram)["sasl_mechanism"] == "SCRAM-SHA-512"
    assert await _connects(scram) is not None


def test_sasl_over_tls_reaches_every_client_the_same(tmp_path) -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="gateway", kafka_sasl_password="pw")
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "gateway" and isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname
    # the bus's consumers (and producer) are built by FastStream from the same settings
    built = Bus(settings, "gateway").broker.config.broker_config.builder.keywords
    assert built["security_protocol"] == "SASL_SSL" and built["sasl_mechanism"] == "SCRAM-SHA-512"
    assert built["sasl_plain_username"] == "gateway" and isinstance(built["ssl_context"], ssl.SSLContext)


def test_plaintext_is_the_default_and_sasl_without_credentials_is_refused() -> None:
    assert client_options(Settings()) == {}
    with pytest.raises(ValidationError, match="needs kafka_sasl_username"):
        Settings(kafka_security_protocol="SASL_SSL")


def test_a_ca_and_a_client_certificate_are_loaded_for_mutual_tls(tmp_path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feather-executor")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "cert.pem",
                        kafka_ssl_certfile=tmp_path / "cert.pem", kafka_ssl_keyfile=tmp_path / "key.pem")
    context = client_options(settings)["ssl_context"]
    assert client_options(settings)["security_protocol"] == "SSL"
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "feather-executor"),),)]
    with pytest.raises(ssl.SSLError):  # a key that is not the certificate's is caught at start, not at connect
        other = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / "key.pem").write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
        client_options(settings)

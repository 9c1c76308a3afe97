"""How a service proves itself to the broker: TLS, SASL/SCRAM, or both, as its settings say.

One translation for every client a service opens (the bus's producer and consumers through
FastStream, its admin connections and the dead-letter reader through aiokafka): the settings
become FastStream's security object, and aiokafka's options are FastStream's own reading of it.
"""
from __future__ import annotations

import ssl
from typing import Any

from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from services.kit.settings import Settings

_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the broker against the CA given (else the system's), and shows this service's
    certificate when one is given (mutual TLS)."""
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(str(settings.kafka_ssl_certfile),
                                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None)
    return context


def broker_security(settings: Settings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    tls = protocol in ("SSL", "SASL_SSL")
    context = tls_context(settings) if tls else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return _SASL[settings.kafka_sasl_mechanism](str(settings.kafka_sasl_username), str(settings.kafka_sasl_password),
                                                ssl_context=context, use_ssl=tls)


def client_options(settings: Settings) -> dict[str, Any]:
    """The same, as keyword arguments of an aiokafka client."""
    return parse_security(broker_security(settings))

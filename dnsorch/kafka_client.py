"""The connection options every dnsorch Kafka client shares (consumer, producers, topic admin)."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from dnsorch.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Bootstrap servers and the security options: what AIOKafkaConsumer/Producer take."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **security_options(settings)}


def security_options(settings: Settings) -> dict[str, Any]:
    """For a secured broker, the SASL/SSL options aiokafka's clients take (the admin client too)."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    if settings.kafka_security_protocol.startswith("SASL_"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password_file is None:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs KAFKA_SASL_USERNAME "
                "and KAFKA_SASL_PASSWORD_FILE"
            )
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password_file.read_text().strip(),
        )
    return options

"""Kafka client options from settings: nothing extra for a plain broker, a login for SASL."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsorch.kafka_client import client_options
from dnsorch.settings import Settings


def test_a_plain_broker_needs_only_its_address() -> None:
    options = client_options(Settings(kafka_bootstrap_servers="k1:9092,k2:9092"))
    assert options == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_reads_the_password_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    options = client_options(
        Settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="dnsorch",
            kafka_sasl_password_file=secret,
        )
    )
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("dnsorch", "s3cret")
    assert options["ssl_context"] is not None


def test_sasl_without_a_login_is_a_clear_configuration_error() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE"):
        client_options(Settings(kafka_security_protocol="SASL_PLAINTEXT"))

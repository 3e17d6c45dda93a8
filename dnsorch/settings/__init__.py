"""The one settings object every dnsorch process reads: environment, then `.env`, then `env/<ENV>.env`.
The approval policy's knobs are in approval.py, part of the same object."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dnsorch.settings.approval import APPROVAL_RISKS, DEFAULT_APPROVAL_RISKS, ApprovalSettings

__all__ = [
    "APPROVAL_RISKS",
    "DEFAULT_APPROVAL_RISKS",
    "PROJECT_ROOT",
    "Environment",
    "Settings",
    "get_settings",
    "load_settings",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
Environment = Literal["dev", "uta", "prod", "test"]


def _env_files(env: str) -> tuple[Path, ...]:
    """Later files win: the per-environment defaults, then a developer's own `.env`."""
    return (PROJECT_ROOT / "env" / f"{env}.env", PROJECT_ROOT / ".env")


class Settings(BaseSettings, ApprovalSettings):
    """Every knob is documented in `.env.example`; names are the upper-case field names."""

    model_config = SettingsConfigDict(extra="ignore", env_file_encoding="utf-8")

    env: Environment = "dev"
    state_dir: Path = PROJECT_ROOT / ".dnsorch"

    # PostgreSQL
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5433/dnsorch"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "dns-provisioning"

    # DNS: the authoritative server the playbook updates and the zones we manage there
    dns_server: str = "127.0.0.1"
    dns_port: int = 5353
    dns_zones: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["example.test"])
    tsig_key_file: Path | None = None
    """Defaults to `<state_dir>/bind/tsig.key`, the key the dev stack generates."""

    # Ansible step
    playbook_path: Path = PROJECT_ROOT / "playbooks" / "nsupdate_batch.yml"
    ansible_timeout_seconds: int = 300
    ansible_heartbeat_seconds: int = 30
    ansible_max_attempts: int = 5
    ansible_initial_retry_seconds: float = 2.0
    ansible_retry_backoff: float = 2.0
    ansible_max_retry_seconds: float = 60.0
    dns_verify_timeout_seconds: float = 10.0
    """How long the primary has to serve a change its playbook applied (each attempt)."""
    dns_verify_servers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """The servers that must all serve a change (`host` or `host:port`, port default DNS_PORT).
    Empty: each zone's NS RRset, asked from the primary once per request, at DNS_PORT."""
    dns_propagation_timeout_seconds: float = 60.0
    """How long every authoritative server has, after the primary, to serve an applied change."""
    dns_propagation_interval_seconds: float = 2.0
    """How often the servers that do not serve a change yet are asked again."""
    dns_verify_failure: Literal["attention", "rollback"] = "attention"
    """A server that does not serve a change in time: ask an operator (NEEDS_ATTENTION), or undo the
    change at once (ROLLED_BACK)."""
    batch_enabled: bool = True
    """Apply the changes (of any zone) ready within `batch_max_wait_ms` with one playbook run."""
    batch_max_changes: int = 100
    """A zone's batch is flushed as soon as it holds this many changes ..."""
    batch_max_wait_ms: int = 300
    """... or when its oldest change has waited this long."""
    batch_max_message_changes: int = 100
    batch_max_message_bytes: int = 16_384
    """Bounds of one UPDATE message; a larger batch is sent as several."""
    api_threads: int = 16
    """Threads (and PostgreSQL connections) the API uses for its blocking work: key checks, row
    writes, reads. Python's default on 2 cores is 6, and under a burst accepting queued behind reads."""
    outbox_sweep_seconds: float = 5.0
    """How often each accepting process (API, Kafka consumer) looks for workflow starts left behind."""
    outbox_start_grace_seconds: float = 20.0
    """How long a sweeper leaves a new start to the process that accepted it (longer than a start's
    own timeout, so both do not start it at once); also the pause after a failed attempt."""
    outbox_sweep_batch: int = 100
    """Starts one sweep claims at most."""
    worker_max_concurrent_activities: int = 200
    """Activities one worker runs at once. Apply activities mostly wait for their batch (no thread,
    no CPU), so this bounds how many changes can share a batch; more wait in Temporal's queue."""
    worker_db_threads: int = 12
    """Threads (and so PostgreSQL connections, at most) the worker's database activities use."""
    worker_playbook_threads: int = 2
    """Playbook runs (one per batch, ≈1.5 CPU-seconds each) one worker runs at once."""
    worker_playbook_overlap_after_ms: int = 3000
    """A further playbook run starts beside a running one only once that one has run this long (a
    slow or hung server); until then the changes that arrive wait for it and share the next run."""
    worker_playbook_warm: bool = True
    """Start each playbook in a fork of a process that imported Ansible once (docs/live-dns.md);
    False starts every ansible-playbook cold."""
    worker_max_cached_workflows: int = 1000
    """Workflow instances one worker keeps in memory between their tasks. A request's workflow that
    is evicted is rebuilt by replaying its history at its next task, which costs CPU: keep this
    above the requests a worker has in flight (waiting ones included). Each costs some memory."""

    # Operators
    attention_timeout_seconds: int = 7 * 24 * 3600
    """How long a request whose Ansible step failed waits in NEEDS_ATTENTION before it ends FAILED."""
    # Expiring records (workflows/expiry.py): a create or update with `expires_at`
    record_expiry_warning_seconds: int = Field(default=86400, ge=0)
    """How long before a record expires the EXPIRING event goes out (at once when less time is left)."""
    record_expiry_recheck_seconds: int = Field(default=60, ge=1)
    """At expiry, while another request is changing the record set: how long to wait before asking again."""

    # The TTL dance (workflows/ttl_dance.py): lower the TTL, wait out the old one, move, restore
    ttl_dance_threshold_seconds: int = Field(default=0, ge=0)
    """An update whose served TTL is above this many seconds dances unasked; 0: only when asked."""
    ttl_dance_short_ttl: int = Field(default=60, ge=1, le=86400)
    """The TTL served while a dancing record moves (steps 1 to 4)."""

    # Drift detection (workflows/drift.py): a Temporal Schedule compares DNS with dns_records
    drift_policy: Literal["heal", "raise"] = "raise"
    """A drifted managed record set: re-applied at once (`heal`), or a request waits in NEEDS_ATTENTION
    for an operator's retry (`raise`). Record sets nobody manages are only reported."""
    drift_interval_seconds: int = 300
    """How often the schedule scans; 0: the worker leaves the schedule as it is (neither creates nor
    updates it; pause or delete it with the Temporal UI or CLI)."""
    drift_schedule_id: str = "dnsorch-drift-scan"
    drift_max_requests_per_zone: int = 100
    """Drift requests one scan starts per zone; more wait for the next scan."""

    # Kafka: the second front door (requests in, dead letters and status events out)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_requests_topic: str = "dns_requests"
    kafka_requests_accounts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    """The accounts a message on the requests topic may name; `*` is any account. A record does not
    carry its producer's identity: the broker's ACLs decide which principals may write the topic,
    and this decides which accounts those writers act for (one consumer per topic and team)."""
    kafka_dlq_topic: str = "dns_requests.dlq"
    kafka_events_topic: str = "dns_requests.events"
    kafka_group_id: str = "dnsorch"
    kafka_topic_partitions: int = 4
    kafka_max_message_bytes: int = 65_536
    kafka_session_timeout_ms: int = 6_000
    kafka_heartbeat_interval_ms: int = 1_000
    kafka_idempotent_producer: Literal["auto", "true", "false"] = "auto"
    """auto: use the idempotent producer where the broker supports it (Apache Kafka), else not (Tansu)."""
    kafka_stats_log_seconds: float = 30.0
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    """How dnsorch's Kafka clients authenticate to a secured broker, whose ACLs then decide who may
    publish requests; with SASL_* set the mechanism, the user and a file holding the password."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password_file: Path | None = None
    """A file, like the TSIG key: the password stays out of the environment, logs and histories."""
    kafka_ssl_cafile: Path | None = None
    """CA bundle for SSL / SASL_SSL (the system's when unset)."""

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_max_body_bytes: int = 65_536
    """Larger request bodies are refused with 413 before anything parses them."""
    api_rate_per_second: float = 20.0
    api_rate_burst: int = 100
    """Per API key and API process: a bucket of `burst` requests refilled at `rate` per second; an
    empty bucket answers 429 with Retry-After."""
    api_key_cache_seconds: float = 5.0
    """How long an API process trusts a key it found valid in PostgreSQL before asking again: a
    revoked key is refused within this many seconds; 0 asks PostgreSQL on every request."""
    metrics_cache_seconds: float = 5.0
    """`/metrics` is open to anyone: its PostgreSQL figures are read at most once per this many
    seconds, however often it is scraped."""

    # `dnsorch dev`: which servers the local stack starts itself (false: use the configured one)
    dev_postgres: bool = True
    dev_temporal: bool = True
    dev_bind: bool = True
    dev_kafka: Literal["auto", "tansu", "apache", "none"] = "auto"
    """The broker `dnsorch dev` starts on KAFKA_BOOTSTRAP_SERVERS: `auto` (Apache Kafka where a JDK 17+
    runs it, else Tansu; see devstack/broker_choice.py), embedded Tansu, Apache Kafka, or none."""
    temporal_ui_port: int = 8233

    # Logging
    log_level: str = "INFO"
    log_json: bool = False

    # Observability
    metrics_host: str = "127.0.0.1"
    """IP address the worker's and the consumer's Prometheus endpoints listen on (0.0.0.0 in containers)."""
    worker_metrics_port: int = 9464
    """The worker's Prometheus endpoint: Temporal SDK metrics and the playbook's; 0 turns it off."""
    consumer_metrics_port: int = 9465
    """The consumer's Prometheus endpoint: ingest figures, lag, events published; 0 turns it off."""
    otel_exporter_otlp_endpoint: str | None = None
    """OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); tracing is off while unset."""
    otel_service_name: str | None = None
    """Service name on the spans; default `dnsorch-<role>` (dnsorch-api, dnsorch-worker, ...)."""

    @field_validator(
        "dns_zones",
        "kafka_requests_accounts",
        "dns_verify_servers",
        mode="before",
    )
    @classmethod
    def _split_zones(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("dns_zones")
    @classmethod
    def _normalise_zones(cls, zones: list[str]) -> list[str]:
        return [zone.strip().rstrip(".").lower() for zone in zones]

    @field_validator("state_dir", "playbook_path", "tsig_key_file")
    @classmethod
    def _relative_to_project(cls, path: Path | None) -> Path | None:
        """Relative paths in settings mean relative to the project, wherever the process runs."""
        if path is None or path.is_absolute():
            return path
        return PROJECT_ROOT / path

    @property
    def tsig_key_path(self) -> Path:
        return self.tsig_key_file or self.state_dir / "bind" / "tsig.key"

    @property
    def dev_api_key_path(self) -> Path:
        """Where `dnsorch dev` writes the admin key it creates on first start (0600)."""
        return self.state_dir / "dev-api-key"

    @property
    def ansible_heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=self.ansible_heartbeat_seconds)

    @property
    def ansible_start_to_close(self) -> timedelta:
        return timedelta(seconds=self.ansible_timeout_seconds)


def load_settings(**overrides: Any) -> Settings:
    """Read settings for the environment named by `ENV` (default dev)."""
    env = str(overrides.get("env") or os.environ.get("ENV", "dev"))
    return Settings(_env_file=_env_files(env), **overrides)  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()

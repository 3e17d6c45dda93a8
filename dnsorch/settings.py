"""The one settings object every dnsorch process reads: environment, then `.env`, then `env/<ENV>.env`."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
Environment = Literal["dev", "uta", "prod", "test"]


def _env_files(env: str) -> tuple[Path, ...]:
    """Later files win: the per-environment defaults, then a developer's own `.env`."""
    return (PROJECT_ROOT / "env" / f"{env}.env", PROJECT_ROOT / ".env")


APPROVAL_RISKS = ("delete", "apex", "ns", "mx", "ttl_drop", "zone_share", "dangling_target")
DEFAULT_APPROVAL_RISKS = tuple(risk for risk in APPROVAL_RISKS if risk != "dangling_target")
"""All but `dangling_target`, which a deployment opts into (a CNAME made before its target waits)."""
"""The kinds of risky change the approval policy knows (dnsorch/requests/approval.py)."""


def _pairs(value: object, example: str) -> dict[str, str] | None:
    """`key=value` pairs from the environment (spaces or commas between them), or from a dict;
    None for anything else (pydantic then says what is wrong)."""
    if isinstance(value, dict):
        return {str(key): "+".join(v) if isinstance(v, list) else str(v) for key, v in value.items()}
    if not isinstance(value, str):
        return None
    pairs = [part for part in value.replace(",", " ").split() if part]
    if any(pair.count("=") != 1 or pair.startswith("=") for pair in pairs):
        raise ValueError(f"write each as name=value, e.g. {example}; got {value!r}")
    return {key.strip(): item.strip() for key, item in (pair.split("=") for pair in pairs)}


def _zone_key(name: str) -> str:
    return name.strip().rstrip(".").lower()


class Settings(BaseSettings):
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
    worker_max_concurrent_activities: int = 200
    """Activities one worker runs at once. Apply activities mostly wait for their batch (no thread,
    no CPU), so this bounds how many changes can share a batch; more wait in Temporal's queue."""
    worker_db_threads: int = 12
    """Threads (and so PostgreSQL connections, at most) the worker's database activities use."""
    worker_playbook_threads: int = 2
    """Playbook runs (one per batch, ≈1.5 CPU-seconds each) one worker runs at once."""
    worker_playbook_warm: bool = False
    """Start each playbook in a fork of a process that imported Ansible once (docs/live-dns.md)."""
    worker_max_cached_workflows: int = 1000
    """Workflow instances one worker keeps in memory between their tasks. A request's workflow that
    is evicted is rebuilt by replaying its history at its next task, which costs CPU: keep this
    above the requests a worker has in flight (waiting ones included). Each costs some memory."""

    # Operators
    attention_timeout_seconds: int = 7 * 24 * 3600
    """How long a request whose Ansible step failed waits in NEEDS_ATTENTION before it ends FAILED."""
    approval_zones: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approval_record_types: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approval_accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approval_risks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_APPROVAL_RISKS)
    )
    """Risky changes that wait for approval (dnsorch/requests/approval.py); empty: none waits for its risk."""
    approval_ttl_floor: int = 300
    """An update that lowers a record's TTL below this many seconds is risky."""
    approval_zone_share: float = 0.3
    """Updates and deletes touching more than this share of a zone's record sets at once are risky ..."""
    approval_zone_min_record_sets: int = 10
    """... in zones with at least this many record sets (a share of 3 means little)."""
    approval_timeout_seconds: int = 3 * 24 * 3600
    """How long a request waits for approval before it ends REJECTED ("no approval in time")."""
    approval_four_eyes: bool = False
    """Four eyes: an approver may not belong to the account that submitted the request, nor hold
    the key that submitted it (API v2's approve answers 409 `four_eyes`)."""
    approval_min_approvers: int = Field(default=1, ge=1)
    """Distinct approvers (API keys) every request held for approval needs before it goes ahead."""
    approval_risk_approvers: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """More approvers for some risks, e.g. `delete=2 zone_share=3`; a request needs the highest
    number among its risks and APPROVAL_MIN_APPROVERS (dnsorch/requests/approval.py)."""
    """A request in one of these zones, of one of these types or from one of these accounts waits
    in PENDING_APPROVAL for an operator's approve/reject before anything touches DNS."""
    approval_zone_approvers: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """More approvers for held requests at or below a name, e.g. `prod.example.test=2`; counted
    like APPROVAL_RISK_APPROVERS (the highest number that applies wins)."""
    approval_account_approvers: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """More approvers for held requests of an account, e.g. `team-payments=2`; the highest wins."""
    approval_zone_risks: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    """APPROVAL_RISKS for requests at or below a name, e.g. `lab.example.test=none
    prod.example.test=delete+apex+ns`: the most specific name listed replaces APPROVAL_RISKS."""

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
        "approval_zones",
        "approval_record_types",
        "approval_accounts",
        "kafka_requests_accounts",
        "dns_verify_servers",
        "approval_risks",
        mode="before",
    )
    @classmethod
    def _split_zones(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("approval_risk_approvers", mode="before")
    @classmethod
    def _risk_numbers(cls, value: object) -> object:
        """`delete=2 zone_share=3` (or commas): a number of approvers per known risk, each at least 1."""
        if isinstance(value, str):
            pairs = [part for part in value.replace(",", " ").split() if part]
            if any(pair.count("=") != 1 for pair in pairs):
                raise ValueError(f"write each as risk=N, e.g. delete=2; got {value!r}")
            value = {risk.strip(): number.strip() for risk, number in (p.split("=") for p in pairs)}
        if isinstance(value, dict):
            unknown = [risk for risk in value if risk not in APPROVAL_RISKS]
            if unknown:
                raise ValueError(f"unknown approval risk(s) {unknown}; known: {', '.join(APPROVAL_RISKS)}")
            if any(not str(n).isdigit() or int(n) < 1 for n in value.values()):
                raise ValueError(f"each risk needs at least 1 approver; got {value}")
            return {risk: int(n) for risk, n in value.items()}
        return value

    @field_validator("approval_zone_approvers", "approval_account_approvers", mode="before")
    @classmethod
    def _approver_numbers(cls, value: object, info: ValidationInfo) -> object:
        """`name=N` pairs (spaces or commas between them), each N at least 1; zones as names."""
        zones = info.field_name == "approval_zone_approvers"
        pairs = _pairs(value, "prod.example.test=2" if zones else "team-a=2")
        if pairs is None:
            return value
        if any(not n.isdigit() or int(n) < 1 for n in pairs.values()):
            raise ValueError(f"each needs at least 1 approver; got {value!r}")
        return {(_zone_key(key) if zones else key): int(n) for key, n in pairs.items()}

    @field_validator("approval_zone_risks", mode="before")
    @classmethod
    def _zone_risk_lists(cls, value: object) -> object:
        """`name=risk+risk` pairs; `name=none` (or `name=`) turns every risk off below that name."""
        pairs = _pairs(value, "prod.example.test=delete+apex")
        if pairs is None:
            return value
        lists = {
            _zone_key(zone): [r for r in text.split("+") if r and r != "none"] for zone, text in pairs.items()
        }
        unknown = sorted({r for risks in lists.values() for r in risks if r not in APPROVAL_RISKS})
        if unknown:
            raise ValueError(f"unknown approval risk(s) {unknown}; known: {', '.join(APPROVAL_RISKS)}")
        return lists

    @field_validator("approval_risks")
    @classmethod
    def _known_risks(cls, risks: list[str]) -> list[str]:
        unknown = [risk for risk in risks if risk not in APPROVAL_RISKS]
        if unknown:
            raise ValueError(f"unknown approval risk(s) {unknown}; known: {', '.join(APPROVAL_RISKS)}")
        return risks

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

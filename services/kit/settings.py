"""Configuration: environment variables with the FEATHER_ prefix, nothing else."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEATHER_", extra="ignore")

    # where the service listens
    host: str = "127.0.0.1"
    port: int = 0  # each service's __main__ supplies its own default
    # where the gateway serves /metrics: never its public port (0: nowhere)
    admin_port: int = 0
    admin_host: str = "127.0.0.1"

    # the bus
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Idempotent producers need InitProducerId; the embedded Tansu broker's memory engine does
    # not implement it, so `feather up` turns this off. Consumers dedupe by event id either way.
    kafka_idempotence: bool = True
    # Tansu looks for new records when a fetch arrives and again when its wait runs out, not
    # in between, so a short wait is what keeps the run path fast; a real Kafka broker answers
    # as soon as data arrives.
    kafka_fetch_wait_ms: int = 3  # consumers on a waiting request's path
    kafka_background_fetch_wait_ms: int = 100  # everything else
    kafka_partitions: int = 3
    # Tansu holds a group join for about half the session timeout, so the embedded platform
    # uses a short one to start in seconds
    kafka_session_timeout_ms: int = 10_000
    handler_retries: int = 5
    # who the broker knows this service as: SASL/SCRAM over TLS in a cluster (each service its
    # own user, so the broker's ACLs say which topics it writes and reads: docs/deploy.md)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None  # the CA that signed the broker's certificate (unset: the system's)
    kafka_ssl_certfile: Path | None = None  # this service's client certificate, for mutual TLS
    kafka_ssl_keyfile: Path | None = None
    bus_watch_s: float = 0.5  # how often the bus checks that the broker still has its topics

    # storage
    data_dir: Path = Path.home() / ".feather" / "data"
    mongo_url: str | None = None
    store_url: str | None = None  # overrides the derived store location
    s3_bucket: str | None = None
    s3_endpoint: str | None = None

    # other services, for the few synchronous calls the gateway forwards
    registry_url: str = "http://127.0.0.1:8081"
    telemetry_url: str = "http://127.0.0.1:8084"
    builder_url: str = "http://127.0.0.1:8082"  # these two only for operators' calls (feather admin)
    executor_url: str = "http://127.0.0.1:8083"

    # service identity (services/kit/identity.py): this service's Ed25519 private key (PEM) and
    # the public keys (PEM) of the services it hears from, by name, as JSON. Unset, each service
    # makes its own key in the data folder and finds the others' there: one machine, one folder
    service_key: str | None = None
    service_keys: dict[str, str] = Field(default_factory=dict)
    service_token_s: int = Field(30, ge=5, le=60)  # how long a token one service shows another holds

    # identity bootstrap: the gateway makes sure this user and token exist at start
    admin_user: str = "local"
    admin_token: str | None = None
    # signs run read tokens; every gateway replica needs the same one (a Secret in a cluster).
    # Unset, a gateway makes one and keeps it in its data folder
    gateway_secret: str | None = None

    # sizes: everything a caller sends or a model returns is bounded before it is accepted
    # (docs/security.md, "Limits"); the bus itself takes records of at most 1 MiB
    max_request_kb: int = Field(1024, gt=0)  # a JSON request body
    max_inputs_kb: int = Field(512, gt=0)  # a run's inputs and choices together, as JSON
    max_outputs_kb: int = Field(512, gt=0)  # a run's outputs as JSON; files travel as blob references
    max_file_mb: int = Field(50, gt=0)  # an uploaded file, or one fetched from a link
    fetch_timeout_s: float = Field(30.0, gt=0)  # the whole fetch of a linked file, not each read
    max_bundle_mb: int = Field(20, gt=0)  # a published bundle as uploaded (gzipped tar)
    max_bundle_unpacked_mb: int = Field(200, gt=0)  # all its members together
    max_bundle_members: int = Field(2000, gt=0)
    max_manifest_kb: int = Field(256, gt=0)  # feather.json
    max_requirements_kb: int = Field(64, gt=0)  # requirements.txt
    anonymous_file_ttl_h: float = Field(24.0, gt=0)  # uploads by anonymous callers expire after this

    # rate limits per minute, counted in the gateway's store (shared by its replicas); Replicate
    # allows 600 run creations and 3,000 other calls a minute per account
    rate_limits: bool = True
    rate_user_per_min: int = Field(3000, ge=0)  # a signed-in user's calls, all routes
    rate_token_per_min: int = Field(3000, ge=0)  # one API token's calls
    rate_runs_per_min: int = Field(600, ge=0)  # a signed-in user's run creations
    rate_anonymous_per_min: int = Field(600, ge=0)  # calls without an account, per client address
    rate_anonymous_runs_per_min: int = Field(60, ge=0)  # run creations without an account, per address
    rate_address_per_min: int = Field(6000, ge=0)  # everything from one client address
    rate_login_per_account_min: int = Field(10, ge=0)  # login attempts on one account
    rate_login_per_address_min: int = Field(30, ge=0)  # login and sign-up attempts from one address
    # how many proxies in front of the gateway append to X-Forwarded-For (0: use the peer address)
    forwarded_hops: int = Field(0, ge=0)
    # the Secure flag on session cookies; unset: on, except for a browser on this machine over loopback
    cookie_secure: bool | None = None
    # quotas per user
    quota_models: int = Field(100, ge=0)
    quota_versions: int = Field(500, ge=0)  # per model
    arena_votes_per_day: int = Field(50, ge=0)  # per user
    quota_active_runs: int = Field(32, ge=0)  # queued or running at once (per address without an account)
    quota_stored_mb: int = Field(5120, ge=0)  # uploaded files
    password_hashes_at_once: int = Field(2, gt=0)  # argon2 is memory- and CPU-hard by design

    # executor
    workers_per_version: int = 2
    workers_min: int = 0  # started as soon as a version is ready
    workers_total: int = 8  # across all versions; with worker_memory_mb, the memory budget
    worker_idle_s: float = 600.0
    # "required": no run without a working sandbox; "off" only for a developer's own code
    sandbox: Literal["required", "off"] = "required"
    worker_uid: int | None = None  # the host uid workers run as (when the executor is root)
    worker_user: str = "feather-worker"  # looked up when worker_uid is unset
    worker_memory_mb: int = Field(1024, gt=0)
    worker_pids: int = Field(64, gt=0)
    worker_cpus: float = Field(1.0, gt=0)  # CPU bandwidth of one worker, in cores
    worker_run_cpu_s: float = Field(600.0, gt=0)  # CPU time one run may use, all its threads together
    worker_idle_grace_s: float = Field(1.0, gt=0)  # an idle worker busy over this long is replaced
    worker_tmp_mb: int = Field(128, gt=0)  # /tmp, and as much again for /dev/shm
    worker_output_mb: int = Field(256, gt=0)
    worker_file_mb: int = Field(256, gt=0)
    seccomp_python: str = "/usr/bin/python3"  # an interpreter with libseccomp's bindings (python3-seccomp)

    # builds
    build_find_links: str | None = None  # an extra folder or page of wheels (tests); unset in production
    build_max_env_mb: int = Field(10240, gt=0)  # an environment that installs to more than this is refused

    # AWS Lambda runtimes: built and run when runtime_backend is "lambda"
    runtime_backend: Literal["local", "lambda"] = "local"
    aws_region: str = "us-east-1"
    aws_endpoint: str | None = None  # an AWS stand-in (moto, LocalStack); unset for AWS itself
    lambda_role_arn: str | None = None  # the functions' execution role: CloudWatch logs only
    lambda_memory_mb: int = 2048
    lambda_timeout_s: int = Field(900, gt=0, le=900)  # AWS allows 900 s at most; see max_deadline_s
    lambda_architecture: Literal["x86_64", "arm64"] = "x86_64"

    # the longest deadline a run may ask for; a Lambda function must be allowed to run that long
    max_deadline_s: float = Field(900.0, gt=0)

    # who this process is among its service's replicas: its gateway reply group, the holder of its
    # executor's jobs (the same id again takes those back at once: give a pod's name)
    instance_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    # an executor renews the jobs it runs this often (a third of it); another takes over a job
    # whose executor stopped renewing for this long
    job_lease_s: float = Field(15.0, gt=0)
    outbox_poll_s: float = 5.0  # a relay is woken by its own writes; this finds others' (and retries)

    # how long telemetry keeps its per-minute and per-hour rollups of runs
    rollup_minute_days: float = Field(7.0, gt=0)
    rollup_hour_days: float = Field(90.0, gt=0)
    alert_every_s: float = Field(30.0, gt=0)  # how often telemetry evaluates the alert rules
    # let webhooks reach private and loopback addresses (a platform on one machine, tests); never
    # in a shared deployment, where it lets a caller make the platform call into its network
    webhooks_to_private_addresses: bool = False
    # run webhooks: plain http and loopback addresses are let through for loopback receivers only
    # when this is set (feather up sets it: a receiver on the same machine); https to a public
    # address otherwise
    webhooks_to_loopback: bool = False
    # seconds between the attempts to deliver a run's `completed` webhook until one answers 2xx
    # (410 stops them); the other events are tried once
    webhook_retry_s: list[float] = Field(default_factory=lambda: [5, 30, 120, 600, 1800, 3600, 7200])
    webhook_throttle_s: float = Field(0.5, ge=0)  # `output` and `logs` deliveries of a run at most this often
    webhook_timeout_s: float = Field(10.0, gt=0)
    # after a caller rotates their webhook secret, deliveries carry signatures by both for this long
    webhook_secret_overlap_h: float = Field(24.0, ge=0)

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> "Settings":
        if self.kafka_security_protocol.startswith("SASL") and not (self.kafka_sasl_username and
                                                                     self.kafka_sasl_password):
            raise ValueError(f"kafka_security_protocol {self.kafka_security_protocol} needs kafka_sasl_username "
                             "and kafka_sasl_password")
        return self

    @model_validator(mode="after")
    def _lambda_covers_every_deadline(self) -> "Settings":
        if self.runtime_backend == "lambda" and self.lambda_timeout_s < self.max_deadline_s:
            raise ValueError(f"lambda_timeout_s ({self.lambda_timeout_s}) must be at least max_deadline_s "
                             f"({self.max_deadline_s:g}): a run may take that long")
        return self

    def store_location(self, service: str) -> str:
        if self.store_url:
            return self.store_url
        if self.mongo_url:
            # one database per service: services share no state
            parts = urlsplit(self.mongo_url)
            return urlunsplit(parts._replace(path=f"/feather_{service}"))
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"


def upload_limit(mb: int) -> int:
    """The body size of a multipart upload of a file of at most ``mb`` MiB: the file, and room
    for the form's own headers and boundaries."""
    return mb * 2**20 + 64 * 1024

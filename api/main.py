"""The FastAPI application: versions are discovered from `api/v*/routes.py`, as in the original."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

from api import health
from api.docs import install_docs
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.security import authenticate, install_security
from dnsorch import telemetry, temporal_client
from dnsorch.db import make_engine
from dnsorch.service import RequestService
from dnsorch.settings import Settings, get_settings

log = logging.getLogger(__name__)
API_DIR = Path(__file__).resolve().parent


def include_versioned_routers(app: FastAPI) -> list[str]:
    """Mount every `api/<version>/routes.py` router under `/api/<version>`."""
    versions = sorted(p.name for p in API_DIR.iterdir() if p.is_dir() and (p / "routes.py").exists())
    for version in versions:
        module = importlib.import_module(f"api.{version}.routes")
        app.include_router(
            module.router,
            prefix=f"/api/{version}",
            tags=[f"api_{version}"],
            dependencies=[Depends(authenticate)],  # no route under /api is reachable without a key
        )
    return versions


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    telemetry.configure_tracing(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        # Lazy: the API starts (and /readyz reports) even while Temporal is still coming up.
        client = await temporal_client.connect(settings, lazy=True)
        app.state.settings = settings
        app.state.service = RequestService(engine, client, settings)
        yield
        engine.dispose()

    app = FastAPI(
        title="dnsorch",
        description="DNS provisioning orchestrator: each request is a durable Temporal workflow.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from the package instead of a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    install_security(app, settings.api_rate_per_second, settings.api_rate_burst, settings.api_max_body_bytes)
    install_metrics(app, settings.metrics_cache_seconds)
    telemetry.instrument_fastapi(app, settings)
    install_docs(app)
    app.include_router(health.router)
    versions = include_versioned_routers(app)
    log.info("API versions mounted: %s", ", ".join(versions))
    return app

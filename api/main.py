"""The FastAPI application: health, metrics, docs and the two API versions, v1 and v2."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api import health
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.security import authenticate, install_security
from api.v1 import routes as v1_routes
from api.v2 import freezes as v2_freezes
from api.v2 import routes as v2_routes
from dnsorch import telemetry, temporal
from dnsorch.requests import AcceptService, OperateService, WorkflowStarter
from dnsorch.settings import Settings, get_settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway

log = logging.getLogger(__name__)


def include_versioned_routers(app: FastAPI) -> list[str]:
    """Mount each API version under `/api/<version>`; no route there is reachable without a key."""
    routers = (("v1", v1_routes.router), ("v2", v2_routes.router), ("v2", v2_freezes.router))
    for version, router in routers:
        app.include_router(
            router, prefix=f"/api/{version}", tags=[f"api_{version}"], dependencies=[Depends(authenticate)]
        )
    return ["v1", "v2"]


def main(settings: Settings) -> None:
    """`dnsorch api`: serve the app with uvicorn (dnsorch/cli/dispatch.py dispatches here)."""
    import uvicorn

    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    telemetry.configure_tracing(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Blocking work (key checks, row writes, reads) runs on the loop's default executor: sized
        # here, or accepting a request would queue behind list reads on 6 threads (2 cores).
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=settings.api_threads, thread_name_prefix="api")
        )
        engine = make_engine(settings.database_url, threads=settings.api_threads)
        # Lazy: the API starts (and /readyz reports) even while Temporal is still coming up.
        client = await temporal.connect(settings, lazy=True)
        gateway = ProvisioningGateway(client, settings.temporal_task_queue)
        app.state.settings = settings
        app.state.engine, app.state.temporal = engine, client
        starter = WorkflowStarter(engine, gateway, settings)
        app.state.accept = AcceptService(engine, gateway, settings, starter)
        app.state.operate = OperateService(
            engine, gateway, four_eyes=settings.approval_four_eyes, starter=starter
        )
        # Starts what was accepted and left behind (by a process that died, or while Temporal was down).
        stop = asyncio.Event()
        sweeper = asyncio.create_task(starter.run(stop), name="outbox-sweep")
        yield
        stop.set()
        await starter.close()
        await sweeper
        engine.dispose()

    # /docs is Swagger UI 5 (it reads FastAPI's OpenAPI 3.1) with its assets served from the
    # fastapi-offline package, never from a CDN: it works in a closed network.
    app = FastAPIOffline(
        title="dnsorch",
        description="DNS provisioning orchestrator: each request is a durable Temporal workflow.",
        version="0.1.0",
        lifespan=lifespan,
        static_url="/docs/assets",
        redoc_url=None,  # one docs page: the one tests/e2e/test_docs_browser.py renders in a browser
    )
    install_error_handlers(app)
    install_security(app, settings.api_rate_per_second, settings.api_rate_burst, settings.api_max_body_bytes)
    install_metrics(app, settings.metrics_cache_seconds)
    telemetry.instrument_fastapi(app, settings)
    app.include_router(health.router)
    versions = include_versioned_routers(app)
    log.info("API versions mounted: %s", ", ".join(versions))
    return app

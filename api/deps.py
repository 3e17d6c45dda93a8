"""FastAPI dependencies as short `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dnsorch.service import RequestService
from dnsorch.settings import Settings


def get_service(request: Request) -> RequestService:
    return request.app.state.service  # type: ignore[no-any-return]


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


ServiceDep = Annotated[RequestService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

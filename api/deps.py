"""FastAPI dependencies as short `Annotated` aliases: each route asks for the piece it uses.

They are `async def` although they only read app state: FastAPI runs a plain `def` dependency in
its thread pool: a thread hop per dependency per request (three on a create), which the API's
profile showed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from dnsorch.requests import AcceptService, OperateService
from dnsorch.settings import Settings


async def get_accept(request: Request) -> AcceptService:
    return request.app.state.accept  # type: ignore[no-any-return]


async def get_operate(request: Request) -> OperateService:
    return request.app.state.operate  # type: ignore[no-any-return]


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


AcceptDep = Annotated[AcceptService, Depends(get_accept)]
OperateDep = Annotated[OperateService, Depends(get_operate)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

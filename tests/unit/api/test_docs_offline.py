"""`/docs` works on a machine without internet access: every asset it references is served by dnsorch.
That a browser renders it is tests/e2e/test_docs_browser.py's part."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.main import create_app
from dnsorch.settings import Settings


def test_docs_page_references_only_assets_dnsorch_serves() -> None:
    nowhere = "postgresql+psycopg2://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    settings = Settings(database_url=nowhere, temporal_address="127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        referenced = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
        referenced += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)  # the spec Swagger UI loads
        assert any(r.endswith(".js") for r in referenced) and any(r.endswith(".css") for r in referenced)
        assert not re.search(r"https?://", page.text), "the docs page loads something from the internet"
        for url in referenced:
            response = client.get(url)
            assert response.status_code == 200, f"{url} is not served by dnsorch"
            assert response.content
        assert client.get("/redoc").status_code == 404  # one docs page: the one a browser renders in e2e

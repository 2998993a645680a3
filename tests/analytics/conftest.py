from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def plain_http(settings: Any) -> None:
    """The test client speaks plain HTTP; production settings would redirect it to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False

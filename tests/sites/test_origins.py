import pytest
from django.core.exceptions import ValidationError

from chatbot.sites.models import Site
from chatbot.sites.origins import origin_allowed, same_origin

ALLOWED = ["https://shop.example.com", "https://*.example.org", "http://localhost:3000"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example.com",
        "https://SHOP.example.com",
        "https://shop.example.com:443",
        "http://localhost:3000",
        # The same DNS name: only the owner of shop.example.com can serve a page there.
        "https://shop.example.com.",
    ],
)
def test_a_listed_origin_is_allowed(origin: str) -> None:
    assert origin_allowed(origin, ALLOWED)


@pytest.mark.parametrize(
    "origin",
    [
        "http://shop.example.com",  # other scheme
        "https://shop.example.com:8443",  # other port
        "https://shop.example.com.evil.net",  # look-alike host
        "https://evilshop.example.com",
        "https://example.com",
        "http://localhost:3001",
        "https://shop.example.com/path",
        "javascript:alert(1)",
        "file://",
        "https://evil-shop.example.com",
        "https://shop.example.com@evil.net",  # user info: the host is evil.net
        "https://evil.net@shop.example.com",
        "https://SHOP.EXAMPLE.COM.EVIL.NET",
        "https://shop.example.com.evil.net.",
        "https://shop.example.com..",
        "https://shop.example.com%2eevil.net",
        "https://shop.example.com:443.evil.net",
        "https://shop.example.com:99999",
        "https://shop.example.com\\@evil.net",
        "https://shop.example.com#@evil.net",
        "https://shop.exam ple.com",
        "https://xn--shop-.example.com",
        "HTTPS://shop.example.com.evil.net",
        "wss://shop.example.com",
        "https:shop.example.com",
        " https://evil.net",
    ],
)
def test_an_origin_that_is_not_listed_exactly_is_refused(origin: str) -> None:
    assert not origin_allowed(origin, ALLOWED)


@pytest.mark.parametrize("origin", [None, "", "null"])
def test_a_missing_or_null_origin_is_refused(origin: str | None) -> None:
    assert not origin_allowed(origin, ALLOWED)


def test_a_wildcard_allows_subdomains_but_not_the_bare_domain_or_look_alikes() -> None:
    assert origin_allowed("https://help.example.org", ALLOWED)
    assert origin_allowed("https://a.b.example.org", ALLOWED)
    assert not origin_allowed("https://example.org", ALLOWED)
    assert not origin_allowed("https://badexample.org", ALLOWED)
    assert not origin_allowed("http://help.example.org", ALLOWED)
    assert not origin_allowed("https://.example.org", ALLOWED)  # an empty label is no sub-domain
    assert not origin_allowed("https://help.example.org.evil.net", ALLOWED)
    assert not origin_allowed("https://help.example.org:8443", ALLOWED)


@pytest.mark.parametrize(
    ("origin", "host", "https_only", "same"),
    [
        ("https://desk.example.net", "desk.example.net", True, True),
        ("https://DESK.example.net", "desk.example.net", True, True),
        ("https://desk.example.net:8443", "desk.example.net:8443", True, True),
        ("http://desk.example.net", "desk.example.net", False, True),
        ("http://desk.example.net", "desk.example.net", True, False),  # other scheme behind https
        ("https://desk.example.net:8443", "desk.example.net", True, False),  # other port
        ("http://desk.example.net:443", "desk.example.net", False, False),
        ("https://desk.example.net.evil.net", "desk.example.net", True, False),
        ("https://evil-desk.example.net", "desk.example.net", True, False),
        ("https://desk.example.net@evil.net", "desk.example.net", True, False),
        ("https://evil.net", "evil.net@desk.example.net", True, False),
        ("null", "desk.example.net", True, False),
        ("", "desk.example.net", True, False),
        (None, "desk.example.net", True, False),
        ("https://desk.example.net", "", True, False),
    ],
)
def test_the_consoles_same_origin_check_wants_this_host_port_and_scheme(
    origin: str | None, host: str, https_only: bool, same: bool
) -> None:
    assert same_origin(origin, host, https_only=https_only) is same


def test_own_origin_is_allowed_only_when_it_matches_the_host_header() -> None:
    assert origin_allowed("http://localhost:8123", [], own_host="localhost:8123")
    assert not origin_allowed("http://localhost:8124", [], own_host="localhost:8123")
    assert not origin_allowed("http://evil.net", [], own_host="localhost:8123")
    assert not origin_allowed("http://localhost:8123", [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad",
    [["shop.example.com"], ["https://shop.example.com/path"], ["ftp://x.com"], "https://x.com", ["https://a*.x.com"]],
)
def test_a_site_refuses_malformed_allowed_origins(bad: object) -> None:
    site = Site(key="s", name="S", allowed_origins=bad)
    with pytest.raises(ValidationError):
        site.full_clean()


@pytest.mark.django_db
def test_a_site_accepts_origins_and_wildcards() -> None:
    Site(key="s", name="S", allowed_origins=["https://shop.example.com", "https://*.example.org:8443"]).full_clean()

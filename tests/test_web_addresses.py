"""The address a worker binds and the URL it advertises to its peers (table routing)."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from streams.app.worker import new_app
from streams.settings import Settings, settings_error


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LEADSCORE_* variable of the calling shell reaches these settings."""
    for name in ("LEADSCORE_WEB_BIND", "LEADSCORE_WEB_HOST", "LEADSCORE_WEB_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LEADSCORE_ADVERTISED_URL", raising=False)
    monkeypatch.setattr(socket, "getfqdn", lambda *a: "worker-7.example.internal")


def test_defaults_bind_and_advertise_loopback() -> None:
    s = Settings()
    assert s.web_bind == "127.0.0.1" and s.advertised_url is None
    assert s.effective_advertised_url == "http://127.0.0.1:6066"


def test_advertised_follows_bind_and_port() -> None:
    s = Settings(web_bind="10.1.2.3", web_port=7001)
    assert s.effective_advertised_url == "http://10.1.2.3:7001"
    # A copy with another port (the demo and the bench make such copies) follows too.
    assert s.model_copy(update={"web_port": 7002}).effective_advertised_url.endswith(":7002")
    assert Settings(web_bind="::1", web_port=7001).effective_advertised_url == "http://[::1]:7001"


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_any_address_advertises_the_host_name(bind: str) -> None:
    s = Settings(web_bind=bind, web_port=6070)
    assert s.effective_advertised_url == "http://worker-7.example.internal:6070"


@pytest.mark.parametrize("fqdn", ["", "localhost", "localhost.localdomain", "ip6-localhost"])
def test_host_name_when_the_fqdn_is_no_use(fqdn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # getfqdn() says `localhost` where /etc/hosts maps the host name to a loopback address.
    monkeypatch.setattr(socket, "getfqdn", lambda *a: fqdn)
    monkeypatch.setattr(socket, "gethostname", lambda: "box-3")
    assert Settings(web_bind="0.0.0.0").effective_advertised_url == "http://box-3:6066"


def test_explicit_advertised_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(web_bind="0.0.0.0", advertised_url="http://worker-1:6066/")
    assert s.effective_advertised_url == "http://worker-1:6066"
    monkeypatch.setenv("LEADSCORE_ADVERTISED_URL", "https://leadscore-0.leadscore:6066")
    monkeypatch.setenv("LEADSCORE_WEB_BIND", "0.0.0.0")
    assert Settings().effective_advertised_url == "https://leadscore-0.leadscore:6066"


def test_web_host_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_WEB_HOST", "0.0.0.0")
    s = Settings()
    assert s.web_bind == "0.0.0.0" and s.web_host == "0.0.0.0"
    assert s.effective_advertised_url == "http://worker-7.example.internal:6066"
    monkeypatch.setenv("LEADSCORE_WEB_BIND", "192.168.5.5")  # the new name wins
    assert Settings().web_bind == "192.168.5.5"


@pytest.mark.parametrize(
    "url",
    [
        "worker-1:6066",
        "ftp://worker-1:6066",
        "http://:6066",
        "http://worker-1",
        "http://worker-1:6066/leads",
        "http://worker-1:99999",
        "http://worker-1:0",
        "http://user:secret@worker-1:6066",
    ],
)
def test_advertised_url_must_be_http_host_and_port(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_ADVERTISED_URL", url)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert settings_error(caught.value).startswith("LEADSCORE_ADVERTISED_URL: ")


def test_bad_bind_names_the_variable_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_WEB_BIND", "")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert settings_error(caught.value).startswith("LEADSCORE_WEB_BIND: ")


def test_faust_binds_and_advertises_them() -> None:
    app = new_app(Settings(web_bind="0.0.0.0", web_port=6071, advertised_url="http://w-2:6071"))
    assert app.conf.web_bind == "0.0.0.0"
    assert app.conf.web_port == 6071
    assert str(app.conf.canonical_url) == "http://w-2:6071"

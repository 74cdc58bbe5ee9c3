"""HTTPS against real TLS servers on 127.0.0.1, with certificates from a throw-away CA (trustme).

Intranet systems are usually signed by the organisation's own CA: `fetch.ca_bundle`
names it, and a source that fails verification says why and what to do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import trustme

from aggregator.config import load_config
from aggregator.errors import ConfigError
from aggregator.fetch import Fetcher
from aggregator.pipeline import Pipeline
from aggregator.runtime import open_runtime
from aggregator.types import FetchResult
from tests.fetch.support import https_server, settings, spec


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Example Corp intranet CA")


def _fetch(url: str, **overrides: Any) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings(**overrides)) as fetcher:
            return await fetcher.fetch(spec(url, visibility="internal"), etag=None, last_modified=None)

    return asyncio.run(go())


def test_a_certificate_from_an_unknown_ca_fails_with_the_reason_and_the_fix(ca: trustme.CA) -> None:
    with https_server(ca.issue_cert("127.0.0.1")) as base:
        result = _fetch(base + "/feed.xml")
    assert result.status == "error" and result.error
    assert "TLS certificate could not be verified (unable to get local issuer certificate)" in result.error
    assert "fetch: {ca_bundle: PATH}" in result.error


def test_ca_bundle_trusts_the_organisations_own_ca(ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with https_server(ca.issue_cert("127.0.0.1")) as base:
        result = _fetch(base + "/feed.xml", ca_bundle=str(bundle))
    assert result.status == "ok", result.error
    assert [item.title for item in result.items] == [f"Story {i} of intranet" for i in range(3)]


def test_public_cas_stay_trusted_beside_the_bundle(ca: trustme.CA, tmp_path: Path) -> None:
    """ca_bundle adds to the usual trust store; it does not replace it."""
    from aggregator.fetch.http import ssl_context

    bundle = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    plain, extended = ssl_context(), ssl_context(str(bundle))
    assert len(extended.get_ca_certs()) == len(plain.get_ca_certs()) + 1 > 100


def test_a_certificate_for_another_host_names_the_mismatch(ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with https_server(ca.issue_cert("crm.intranet.example")) as base:
        result = _fetch(base + "/feed.xml", ca_bundle=str(bundle))
    assert result.status == "error" and result.error
    reason = "IP address mismatch, certificate is not valid for '127.0.0.1'"
    assert result.error == f"the server's TLS certificate could not be verified ({reason})"


def _config(tmp_path: Path, fetch: str, url: str = "https://127.0.0.1:1/feed.xml") -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'db.sqlite'}\n"
        f"fetch:\n  allow_networks: [127.0.0.1/32]\n{fetch}"
        "sources:\n"
        f"  - {{id: crm, url: '{url}', kind: feed, visibility: internal}}\n"
    )
    return config


def test_a_relative_ca_bundle_is_read_from_config_yamls_folder_end_to_end(ca: trustme.CA, tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    ca.cert_pem.write_to_path(str(tmp_path / "certs" / "corp-ca.pem"))
    with https_server(ca.issue_cert("127.0.0.1")) as base:
        runtime = open_runtime(_config(tmp_path, "  ca_bundle: certs/corp-ca.pem\n", base + "/feed.xml"))
        assert runtime.config.fetch.ca_bundle == str(tmp_path / "certs" / "corp-ca.pem")

        async def run() -> list[tuple[str, int]]:
            pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
            try:
                return [(o.status, o.new) for o in await pipeline.run_pass(runtime.holder.sources)]
            finally:
                await pipeline.aclose()

        try:
            assert asyncio.run(run()) == [("ok", 3)]
        finally:
            runtime.close()


@pytest.mark.parametrize(("content", "expected"), [
    (None, "fetch.ca_bundle: no file at"),
    ("this is not a certificate\n", "holds no usable PEM CA certificate"),
])
def test_check_reports_a_ca_bundle_it_cannot_use(tmp_path: Path, content: str | None, expected: str) -> None:
    if content is not None:
        (tmp_path / "corp-ca.pem").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, "  ca_bundle: corp-ca.pem\n"), environ={})
    [problem] = info.value.problems
    assert expected in str(problem) and problem.line == 4, str(problem)

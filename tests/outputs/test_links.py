"""`funnelfeed links`: create, refuse to re-show, rotate and revoke; the server notices at once."""

from __future__ import annotations

import re

import httpx
from click.testing import CliRunner
from fastapi import FastAPI

from aggregator.cli import main
from aggregator.runtime import Runtime
from tests.outputs.conftest import BASE_URL, NOW

URL_RE = re.compile(r"^(\w+)\t[^\t]+\t(\S+/f/(\S+)/opml)$", re.M)


def links(runtime: Runtime, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["links", "--config", str(runtime.holder.path), *args])
    return result.exit_code, result.stdout, result.stderr


async def test_links_create_rotate_revoke(runtime: Runtime, app: FastAPI) -> None:
    for rep in ("alice", "bob"):
        runtime.storage.set_rep_token_hash(rep, None, NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        code, out, err = links(runtime)
        assert code == 0, err
        tokens = {rep: token for rep, url, token in URL_RE.findall(out) if url.startswith(BASE_URL)}
        assert set(tokens) == {"alice", "bob"} and "privately" in err
        for token in tokens.values():
            assert (await client.get(f"/f/{token}/opml")).status_code == 200
        # Nothing stored can show a token again: the second run says so and shows none.
        code, out, _ = links(runtime)
        assert code == 0 and not URL_RE.findall(out)
        assert out.count("cannot be shown again") == 2 and "--rotate alice" in out
        # Rotation: a new link, and the old one is dead at once (even in the server's cache).
        code, out, _ = links(runtime, "--rotate", "alice", "--base-url", "https://elsewhere.example")
        ((rep, url, new),) = URL_RE.findall(out)
        assert code == 0 and rep == "alice" and url.startswith("https://elsewhere.example/f/")
        assert (await client.get(f"/f/{tokens['alice']}/opml")).status_code == 404
        assert (await client.get(f"/f/{new}/opml")).status_code == 200
        # Revocation, and an unknown rep is a clear error.
        code, _, err = links(runtime, "--revoke", "bob")
        assert code == 0 and "revoked" in err
        assert (await client.get(f"/f/{tokens['bob']}/all.rss")).status_code == 404
        code, _, err = links(runtime, "--rotate", "nobody")
        assert code == 1 and "unknown rep(s): nobody" in err

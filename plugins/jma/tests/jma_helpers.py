"""Helpers for the jma plugin's tests: hand-made telegrams and feeds, a local feed server."""

from __future__ import annotations

import threading
from datetime import UTC
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from disaster_ai.testing import TEST_PASSWORDS, csrf_token_from

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "samples"

VXWW50 = """<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/" xmlns:jmx="http://xml.kishou.go.jp/jmaxml1/">
  <Control>
    <Title>{title}</Title>
    <DateTime>2026-09-05T00:00:00Z</DateTime>
    <Status>{status}</Status>
    <EditorialOffice>静岡地方気象台</EditorialOffice>
    <PublishingOffice>静岡地方気象台</PublishingOffice>
  </Control>
  <Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/">
    <Title>静岡県レベル４土砂災害危険警報</Title>
    <ReportDateTime>{at}</ReportDateTime>
    <TargetDateTime>{at}</TargetDateTime>
    <EventID>静岡県土砂災害警戒情報</EventID>
    <InfoType>{info_type}</InfoType>
    <Serial>{serial}</Serial>
    <InfoKind>土砂災害警戒情報</InfoKind>
    <InfoKindVersion>1.0_0</InfoKindVersion>
    <Headline><Text>試験用に作成した電文です。</Text></Headline>
  </Head>
  <Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/meteorology1/">
    <Warning type="土砂災害警戒情報">
      <Item>
        <Kind><Name>{kind}</Name><Code>{code}</Code><Status>{kind_status}</Status></Kind>
        <Area><Name>{area_name}</Name><Code>{area_code}</Code></Area>
      </Item>
      <Item>
        <Kind><Name>なし</Name><Code>0</Code><Status>なし</Status></Kind>
        <Area><Name>近隣町</Name><Code>2242900</Code></Area>
      </Item>
    </Warning>
  </Body>
</Report>
"""

KINDS = {"警戒": ("3", "発表"), "継続": ("3", "継続"), "解除": ("1", "解除"), "なし": ("0", "なし")}


def landslide_alert(
    kind: str = "警戒",
    *,
    status: str = "通常",
    info_type: str = "発表",
    at: str = "2026-09-05T09:00:00+09:00",
    serial: int = 1,
    area_code: str = "2221200",
    area_name: str = "焼津市",
    title: str = "土砂災害警戒情報",
) -> bytes:
    """A hand-made VXWW50 (土砂災害警戒情報) for one municipality."""
    name = "警戒" if kind == "継続" else kind
    code, kind_status = KINDS[kind]
    return VXWW50.format(
        title=title, status=status, at=at, info_type=info_type, serial=serial, kind=name,
        code=code, kind_status=kind_status, area_code=area_code, area_name=area_name,
    ).encode("utf-8")  # fmt: skip


def atom(updated: str, entries: list[tuple[str, str]]) -> bytes:
    """A JMA-style Atom feed: ``entries`` are (url, updated)."""
    items = "".join(
        f"<entry><title>土砂災害警戒情報</title><id>{url}</id><updated>{when}</updated>"
        f"<author><name>静岡地方気象台</name></author>"
        f'<link type="application/xml" href="{url}"/><content type="text">…</content></entry>'
        for url, when in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" lang="ja">'
        f"<title>高頻度（随時）</title><id>urn:test:feed</id><updated>{updated}</updated>{items}</feed>"
    ).encode()


class FeedServer:
    """A local HTTP server: ``files[path] = bytes``; ``modified[path]`` a datetime for
    Last-Modified, honouring If-Modified-Since with 304. ``hits`` lists every GET."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.modified: dict = {}
        self.hits: list[tuple[str, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the standard library's name
                body = server.files.get(self.path)
                if body is None:
                    server.hits.append((self.path, 404))
                    self.send_error(404)
                    return
                modified = server.modified.get(self.path)
                stamp = format_datetime(modified.astimezone(UTC), usegmt=True) if modified else None
                if stamp and self.headers.get("If-Modified-Since") == stamp:
                    server.hits.append((self.path, 304))
                    self.send_response(304)
                    self.end_headers()
                    return
                server.hits.append((self.path, 200))
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                if stamp:
                    self.send_header("Last-Modified", stamp)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def gets(self, path: str) -> list[int]:
        return [status for p, status in self.hits if p == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def log_in(client, role: str):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": role, "password": TEST_PASSWORDS[role], "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def cli_for(app):
    """A command-line runner for ``app`` (the ``runner`` fixture's, for another app)."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from disaster_ai.cli import build_cli

    group, runner = build_cli(app), CliRunner()

    def invoke(args):
        info = ScriptInfo(create_app=lambda: app, load_dotenv_defaults=False)
        return runner.invoke(group, args, obj=info, catch_exceptions=False)

    return invoke

"""The «Tổng hợp» handler over HTTP, for offices that do not install Python on every PC.

xlwings' remote clients (RunRemotePython in VBA, Office Scripts, Office.js) POST the workbook as
JSON; this server builds the book with xlwings' remote engine (``xw.Book(json=…)``), runs
``addin.handlers.tong_hop`` on the share it was started with (never a folder named by the
client) and answers with ``book.json()``: the actions the client applies to the open workbook.

Standard library only (``http.server``): one endpoint, no framework to keep up to date. The
remote engine is xlwings PRO, free for non-commercial use (PolyForm Noncommercial 1.0.0, which
names government institutions among permitted users): ``XLWINGS_LICENSE_KEY=noncommercial``.

Endpoints: ``POST /tong-hop`` (the button), ``GET /`` (a Vietnamese status page),
``GET /office-script.ts`` (xlwings' Office Scripts client pointed at this server).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shared_folder_layout.share import Share

ENDPOINT = "/tong-hop"
MAX_BODY = 64 * 1024 * 1024  # a master of 100,000 rows is a few MB of JSON
LICENSE_ENV = "XLWINGS_LICENSE_KEY"
NONCOMMERCIAL = "noncommercial"
LICENSE_NOTE = (
    "Chế độ máy chủ dùng phần xlwings PRO (bộ máy xử lý từ xa), miễn phí cho mục đích phi thương mại theo giấy phép "
    "PolyForm Noncommercial 1.0.0 — giấy phép này cho phép các cơ quan nhà nước sử dụng. Dùng cho mục đích thương "
    "mại cần mua giấy phép tại https://www.xlwings.org."
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    """What the server serves: one share, the office key (None: no intake), an optional token clients must send."""

    share: Share
    key: bytes | None
    token: str = ""


def ensure_license() -> str:
    """The xlwings PRO licence key for the remote engine; ``noncommercial`` when none is set."""
    os.environ.setdefault(LICENSE_ENV, NONCOMMERCIAL)
    return os.environ[LICENSE_ENV]


def run_handler(payload: dict[str, Any], settings: ServerSettings, lock: threading.Lock) -> dict[str, Any]:
    """Build the book from the client's JSON, press the button on it, return the actions."""
    import xlwings as xw

    from addin.handlers import tong_hop

    book = xw.Book(json=payload)
    with lock:  # one press at a time: intake takes the share's lock anyway, and reports are quick
        result = tong_hop(book, share=settings.share, key=settings.key)
    log.info("tong_hop: %s %s", result.status, result.period)
    return book.json()


def office_script(url: str, token: str) -> str:
    """xlwings' Office Scripts client (shipped in the package) whose ``main`` calls this server."""
    import xlwings

    source = (Path(xlwings.__file__).parent / "js" / "xlwings.ts").read_text(encoding="utf-8")
    _head, _sep, rest = source.partition("}\n")
    call = f"  await runPython(workbook, {json.dumps(url)}, {{ auth: {json.dumps(token)} }});\n"
    return "async function main(workbook: ExcelScript.Workbook) {\n" + call + "}\n" + rest


class Handler(BaseHTTPRequestHandler):
    """HTTP: POST /tong-hop runs the button; CORS allowed (Office clients call from Excel's own origin)."""

    server: TongHopServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the logger, not stderr."""
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.end_headers()
        self.wfile.write(body)

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def do_OPTIONS(self) -> None:
        """CORS preflight."""
        self._send(HTTPStatus.NO_CONTENT, b"", "text/plain")

    def do_GET(self) -> None:
        """A status page, or the Office Script that calls this server."""
        settings = self.server.settings
        if self.path == "/office-script.ts":
            url = f"http://{self.headers.get('Host', 'localhost')}{ENDPOINT}"
            self._send(HTTPStatus.OK, office_script(url, settings.token).encode("utf-8"), "text/plain; charset=utf-8")
            return
        if self.path != "/":
            self._text(HTTPStatus.NOT_FOUND, "Không có trang này.")
            return
        campaign = settings.share.campaign
        self._text(
            HTTPStatus.OK,
            f"chitieu: máy chủ nút «Tổng hợp» của chiến dịch «{campaign.info.name}» đang chạy.\n"
            f"Gửi sổ tổng hợp tới {ENDPOINT} (xlwings RunRemotePython / Office Scripts).\n{LICENSE_NOTE}\n",
        )

    def _authorized(self) -> bool:
        token = self.server.settings.token
        sent = self.headers.get("Authorization", "")
        return not token or hmac.compare_digest(sent.encode(), token.encode())

    def do_POST(self) -> None:
        """Run the button on the posted book; answer with the actions."""
        if self.path != ENDPOINT:
            self._text(HTTPStatus.NOT_FOUND, "Không có trang này.")
            return
        if not self._authorized():
            self._text(HTTPStatus.UNAUTHORIZED, "Sai mã truy cập (Authorization).")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0  # a length that is not a number: answered like an empty request
        if length <= 0 or length > MAX_BODY:
            self.close_connection = True
            self._text(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length else HTTPStatus.BAD_REQUEST,
                "Sổ gửi lên quá lớn hoặc rỗng.",
            )
            return
        try:
            payload = json.loads(self.rfile.read(length))
            if not isinstance(payload, dict) or "sheets" not in payload:
                raise ValueError("no sheets")
        except ValueError:
            self._text(HTTPStatus.BAD_REQUEST, "Dữ liệu gửi lên không phải sổ tính của xlwings (JSON).")
            return
        try:
            actions = run_handler(payload, self.server.settings, self.server.lock)
        except Exception as err:
            log.exception("tong_hop failed")
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"Không tổng hợp được: {type(err).__name__}: {err}")
            return
        body = json.dumps(actions, ensure_ascii=False, default=str).encode("utf-8")
        self._send(HTTPStatus.OK, body, "application/json; charset=utf-8")


class TongHopServer(ThreadingHTTPServer):
    """The HTTP server, carrying its settings."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: ServerSettings):
        super().__init__(address, Handler)
        self.settings = settings
        self.lock = threading.Lock()


def make_server(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8000) -> TongHopServer:
    """A server bound to ``host:port`` (port 0: any free port), not yet serving."""
    ensure_license()
    return TongHopServer((host, port), settings)


def serve(share: Share, *, host: str, port: int, key_file: Path | None = None, token: str = "") -> int:
    """Serve the button for ``share`` until stopped (Ctrl+C); print where, in Vietnamese."""
    from addin.handlers import office_key

    key = office_key(key_file)
    server = make_server(ServerSettings(share, key, token), host, port)
    url = f"http://{host}:{server.server_address[1]}{ENDPOINT}"
    print(f"Máy chủ nút «Tổng hợp» của «{share.campaign.info.name}» đang chạy: {url}")
    print(f"Mã Office Script: http://{host}:{server.server_address[1]}/office-script.ts")
    if key is None:
        print("Máy này không có khóa bí mật: nút chỉ tổng hợp số liệu đã có, không nhận tệp mới.")
    if not token:
        print("Chưa đặt mã truy cập (--token): chỉ mở máy chủ trong mạng nội bộ tin cậy.")
    print(LICENSE_NOTE)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

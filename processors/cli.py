"""The ``chitieu`` command: Vietnamese help, one subcommand per task of the office."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forms.findings import DefinitionError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


# argparse's own words (usage, section titles, errors) in Vietnamese.
_ARGPARSE_VI = {
    "usage: ": "Cách dùng: ",
    "positional arguments": "Tham số",
    "options": "Tùy chọn",
    "show this help message and exit": "hiện hướng dẫn này rồi thoát",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n",
    "the following arguments are required: %s": "thiếu tham số bắt buộc: %s",
    "unrecognized arguments: %s": "không hiểu tham số: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "lựa chọn không hợp lệ: %(value)r (chọn một trong %(choices)s)",
    "expected one argument": "cần một giá trị",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "invalid %(type)s value: %(value)r": "giá trị %(type)s không hợp lệ: %(value)r",
}


def _translate(text: str) -> str:
    return _ARGPARSE_VI.get(text, text)


argparse._ = _translate  # argparse looks its messages up through this module-level gettext alias


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors exit with code 2 and a Vietnamese hint."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        err_console.print(f"[red]{self.prog}: lỗi: {message}[/red]\nXem thêm: {self.prog} -h")
        raise SystemExit(2)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def _report_definition_error(err: DefinitionError) -> int:
    err_console.print(f"[red]{err.describe()}[/red]")
    return 2


def write_unit_templates(definition: Path, out_dir: Path, key_file: Path | None) -> list[Path]:
    """Load a definition and write every reporting unit's template into ``out_dir``, with a progress bar."""
    from forms.loader import load_campaign

    campaign = load_campaign(definition)  # refused definitions stop here: nothing written, no key made

    from forms.signing import load_or_create_key
    from forms.template_writer import write_templates

    key = load_or_create_key(key_file)
    units = campaign.reporting_units()
    with _progress() as progress:
        task = progress.add_task("Đang tạo mẫu biểu", total=len(units))
        paths = write_templates(
            campaign, out_dir, key, progress=lambda done, total: progress.update(task, completed=done)
        )
    return paths


def cmd_forms(args: argparse.Namespace) -> int:
    """``chitieu forms DEF --out DIR``."""
    try:
        paths = write_unit_templates(Path(args.definition), Path(args.out), args.key)
    except DefinitionError as err:
        return _report_definition_error(err)
    console.print(f"Đã tạo {len(paths)} mẫu biểu trong thư mục: {Path(args.out).resolve()}")
    return 0


def cmd_new_plan(args: argparse.Namespace) -> int:
    """``chitieu new-plan FILE``."""
    from forms.plan_workbook import write_plan_workbook

    path = Path(args.file)
    if path.exists() and not args.force:
        err_console.print(f"[red]Tệp «{path}» đã có; không ghi đè.[/red] Thêm --force để ghi đè.")
        return 2
    write_plan_workbook(path)
    console.print(f"Đã tạo tệp định nghĩa trống: {path.resolve()}")
    console.print(
        "Mở tệp, đọc trang «Hướng dẫn», điền 5 trang rồi chạy: chitieu forms " + str(path) + " --out mau_bieu"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``chitieu demo [DIR]``: a few days of the Sóc Trăng sample campaign played on a share in DIR."""
    from processors.demo import run_demo

    return run_demo(Path(args.dir), args.key, console, _progress)


def cmd_init(args: argparse.Namespace) -> int:
    """``chitieu init SHARE --campaign DEF``."""
    from forms.signing import load_or_create_key
    from shared_folder_layout.share import ShareError, init_share

    try:
        with _progress() as progress:
            task = progress.add_task("Đang tạo mẫu biểu", total=None)
            share = init_share(
                Path(args.share),
                Path(args.campaign),
                load_or_create_key(args.key),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except DefinitionError as err:
        return _report_definition_error(err)
    except ShareError as err:
        err_console.print(f"[red]{err}[/red]")
        return 2
    layout = share.layout
    console.print(f"Đã chuẩn bị thư mục dùng chung: {layout.root}")
    console.print(f"  {len(share.manifest['units'])} đơn vị, mỗi đơn vị một thư mục trong «{layout.units_root.name}»")
    console.print(f"  Hướng dẫn cho đơn vị: {layout.clerk_readme}")
    console.print(f"  Phân quyền (Samba, Windows): {layout.acl_dir}")
    return 0


def _open_share(root: Path):
    """The share at ``root``, or the exit code 2 after a Vietnamese message saying what is wrong."""
    from shared_folder_layout.share import ShareError, open_share

    try:
        return open_share(root)
    except DefinitionError as err:
        return _report_definition_error(err)
    except ShareError as err:
        err_console.print(f"[red]{err}[/red]")
        return 2


def cmd_units(args: argparse.Namespace) -> int:
    """``chitieu units SHARE [--json]``."""
    import json

    from shared_folder_layout.share import list_units

    share = _open_share(Path(args.share))
    if isinstance(share, int):
        return share
    rows = list_units(share)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    from rich.table import Table

    table = Table(title="Các đơn vị báo cáo")
    for header in ("Mã", "Tên đơn vị", "Thư mục nộp báo cáo"):
        table.add_column(header)
    for row in rows:
        table.add_row(row["code"], row["name"], row["inbox"])
    console.print(table)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """``chitieu ingest SHARE``: process every file waiting, then exit."""
    from filelock import Timeout

    from forms.signing import load_or_create_key
    from processors.intake import ingest_share

    share = _open_share(Path(args.share))
    if isinstance(share, int):
        return share
    try:
        with _progress() as progress:
            task = progress.add_task("Đang xử lý tệp nộp", total=None)
            summary = ingest_share(
                share,
                load_or_create_key(args.key),
                settle=args.settle,
                **({"batch_size": args.batch_size} if args.batch_size else {}),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except Timeout:
        err_console.print("[red]Một tiến trình khác đang xử lý thư mục này quá lâu; thử lại sau.[/red]")
        return 3
    console.print(summary.describe())
    return 0


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse type, Vietnamese error)."""
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"«{text}» không phải số giây") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"số giây phải lớn hơn 0 (nhận {text})")
    return value


def cmd_watch(args: argparse.Namespace) -> int:
    """``chitieu watch SHARE``: ingest each file as soon as it is complete, until stopped (Ctrl+C, SIGTERM)."""
    from processors.watcher import SETTLE_SECONDS, WatchError, WatchSettings, watch_share

    settings = WatchSettings(
        polling=args.polling,
        interval=args.interval,
        settle=args.settle if args.settle is not None else SETTLE_SECONDS,
    )
    try:
        return watch_share(Path(args.share), args.key, settings)
    except DefinitionError as err:
        return _report_definition_error(err)
    except WatchError as err:
        err_console.print(f"[red]{err}[/red]")
        return 2


def cmd_master(args: argparse.Namespace) -> int:
    """``chitieu master SHARE``: rebuild the master workbook from the ledger (exit 3 when it is open)."""
    from filelock import FileLock, Timeout

    from processors.intake import LOCK_TIMEOUT
    from processors.ledger import open_ledger
    from processors.master import BUSY, UPDATED, update_master

    share = _open_share(Path(args.share))
    if isinstance(share, int):
        return share
    try:
        with FileLock(str(share.layout.lock), timeout=LOCK_TIMEOUT), open_ledger(share.layout.ledger) as ledger:
            result = update_master(share, ledger, force=True)
    except Timeout:
        err_console.print("[red]Một tiến trình khác đang xử lý thư mục này quá lâu; thử lại sau.[/red]")
        return 3
    if result.status == UPDATED:
        console.print(result.message)
        return 0
    err_console.print(f"[red]{result.message}[/red]")
    return 3 if result.status == BUSY else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """``chitieu serve SHARE``: the «Tổng hợp» button over HTTP for xlwings' remote clients."""
    from addin.server import serve  # addin depends on processors, never the other way at import time

    share = _open_share(Path(args.share))
    if isinstance(share, int):
        return share
    return serve(share, host=args.host, port=args.port, key_file=args.key, token=args.token)


def cmd_report(args: argparse.Namespace) -> int:
    """``chitieu report SHARE [--period P] [--level L] [--json]``: rates, ranks and reminders of one period."""
    import json

    from processors.report import ReportError, format_report_table, load_report, report_json

    share = _open_share(Path(args.share))
    if isinstance(share, int):
        return share
    try:
        report = load_report(share, period=args.period, level=args.level)
    except ReportError as err:
        err_console.print(f"[red]{err}[/red]")
        return 2
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        print(format_report_table(report, width=max(console.width, 100)), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full ``chitieu`` parser with every subcommand."""
    parser = _Parser(
        prog="chitieu",
        description="chitieu: giao chỉ tiêu, thu nhận báo cáo qua thư mục dùng chung và tổng hợp kết quả bằng Excel.",
        epilog="Xem hướng dẫn của từng lệnh: chitieu LỆNH -h",
    )
    sub = parser.add_subparsers(dest="command", metavar="LỆNH", title="Các lệnh", parser_class=_Parser)
    key_help = "tệp khóa bí mật của cơ quan (mặc định ~/.chitieu/secret.key, hoặc biến môi trường CHITIEU_KEY_FILE)"

    p = sub.add_parser(
        "forms",
        help="tạo mẫu biểu khóa cho từng đơn vị từ tệp định nghĩa",
        description="Tạo mỗi đơn vị một mẫu biểu .xlsx đã khóa, từ tệp định nghĩa ke_hoach.xlsx hoặc .yaml.",
    )
    p.add_argument("definition", metavar="DEF", help="tệp định nghĩa chiến dịch (ke_hoach.xlsx hoặc .yaml)")
    p.add_argument("--out", metavar="THƯ_MỤC", required=True, help="thư mục ghi các mẫu biểu")
    p.add_argument("--key", metavar="TỆP", type=Path, help=key_help)
    p.set_defaults(func=cmd_forms)

    p = sub.add_parser(
        "new-plan",
        help="tạo tệp định nghĩa trống kèm hướng dẫn",
        description="Tạo tệp ke_hoach.xlsx trống, có hướng dẫn, để cơ quan điền kế hoạch.",
    )
    p.add_argument("file", metavar="TỆP", help="tệp sẽ tạo, ví dụ ke_hoach.xlsx")
    p.add_argument("--force", action="store_true", help="ghi đè nếu tệp đã có")
    p.set_defaults(func=cmd_new_plan)

    p = sub.add_parser(
        "init",
        help="tạo hoặc cập nhật thư mục dùng chung cho một chiến dịch",
        description="Tạo thư mục dùng chung: mỗi đơn vị một thư mục (mẫu biểu, nộp báo cáo, phiếu phản hồi), "
        "thư mục văn phòng, hướng dẫn README.txt và tệp phân quyền. Chạy lại an toàn: cập nhật mẫu biểu, "
        "không xóa tệp đã nộp.",
    )
    p.add_argument("share", metavar="THƯ_MỤC", help="thư mục dùng chung (ví dụ ổ mạng)")
    p.add_argument(
        "--campaign", metavar="DEF", required=True, help="tệp định nghĩa chiến dịch (ke_hoach.xlsx hoặc .yaml)"
    )
    p.add_argument("--key", metavar="TỆP", type=Path, help=key_help)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "units",
        help="liệt kê các đơn vị và thư mục của từng đơn vị",
        description="Liệt kê các đơn vị của thư mục dùng chung cùng đường dẫn mẫu biểu, thư mục nộp và phiếu phản hồi.",
    )
    p.add_argument("share", metavar="THƯ_MỤC", help="thư mục dùng chung")
    p.add_argument("--json", action="store_true", help="in dạng JSON (code, name, template, inbox, receipts)")
    p.set_defaults(func=cmd_units)

    p = sub.add_parser(
        "ingest",
        help="xử lý mọi tệp đang chờ trong các thư mục «Nộp báo cáo», rồi thoát",
        description="Kiểm tra từng tệp đơn vị đã nộp, ghi sổ cái, lưu bản gốc, trả phiếu phản hồi vào thư mục của đơn vị. "
        "Giờ nhận lấy theo đồng hồ máy (hoặc biến môi trường CHITIEU_NOW khi minh họa, kiểm thử).",
    )
    p.add_argument("share", metavar="THƯ_MỤC", help="thư mục dùng chung")
    p.add_argument("--key", metavar="TỆP", type=Path, help=key_help)
    p.add_argument(
        "--settle",
        metavar="GIÂY",
        type=float,
        default=2.0,
        help="chỉ nhận tệp đã đứng yên ít nhất chừng ấy giây (mặc định 2)",
    )
    # Hidden: how many files one ledger transaction records. Tests set it small so that a
    # kill can land between commits; the default suits real use.
    p.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "watch",
        help="theo dõi thư mục dùng chung, xử lý ngay từng tệp vừa nộp xong (chạy liên tục, như một dịch vụ)",
        description="Chạy liên tục: mỗi tệp đơn vị nộp vào «Nộp báo cáo» được xử lý ngay khi đã ghi xong "
        "(kích thước, thời điểm sửa đứng yên) và phiếu phản hồi được trả ngay. Khi khởi động, xử lý cả các tệp "
        "đến trong lúc không chạy. Chịu được thư mục dùng chung tạm mất rồi có lại. Nhật ký tiếng Việt ghi ra "
        "màn hình và vào «Văn phòng/Nhật ký/chitieu.log». Dừng bằng Ctrl+C hoặc SIGTERM: làm xong lô đang dở rồi "
        "thoát với mã 0. Cách chạy như dịch vụ Windows, systemd: docs/dich_vu.md.",
    )
    p.add_argument(
        "share", metavar="THƯ_MỤC", help="thư mục dùng chung (trên chính máy này: sổ cái SQLite phải ở ổ đĩa cục bộ)"
    )
    p.add_argument(
        "--polling",
        action="store_true",
        help="không dựa vào sự kiện của hệ thống tệp, quét lại định kỳ (thư mục mạng SMB/CIFS, đường dẫn UNC, "
        "thư mục chia sẻ của máy ảo)",
    )
    p.add_argument(
        "--interval",
        metavar="GIÂY",
        type=_seconds,
        default=2.0,
        help="với --polling: quét lại mỗi chừng ấy giây (mặc định 2)",
    )
    p.add_argument(
        "--settle",
        metavar="GIÂY",
        type=_seconds,
        default=None,
        help="chỉ nhận tệp đã đứng yên ít nhất chừng ấy giây (mặc định 1)",
    )
    p.add_argument(
        "--key",
        metavar="TỆP",
        type=Path,
        help="tệp khóa bí mật của cơ quan (mặc định ~/.chitieu/secret.key, hoặc biến môi trường CHITIEU_KEY_FILE); "
        "phải có sẵn: lệnh này không tạo khóa mới",
    )
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser(
        "master",
        help="tạo lại sổ tổng hợp tonghop.xlsm từ sổ cái",
        description="Tạo lại sổ tổng hợp «Văn phòng/Tổng hợp/tonghop.xlsm» từ sổ cái: trang «Dữ liệu» (mọi số liệu "
        "đang dùng), trang «Nhật ký» (mọi tệp đã nhận), nút «Tổng hợp». Lệnh «ingest» và «watch» tự cập nhật sổ sau "
        "mỗi lần xử lý; lệnh này dùng khi cần tạo lại ngay. Sổ đang mở trong Excel thì không ghi, thoát với mã 3.",
    )
    p.add_argument("share", metavar="THƯ_MỤC", help="thư mục dùng chung")
    p.set_defaults(func=cmd_master)

    p = sub.add_parser(
        "report",
        help="báo cáo một kỳ: tỷ lệ đạt, tiến độ, xếp hạng, đơn vị chưa nộp",
        description="Tính từ sổ cái, cho một kỳ và một cấp: số liệu, chỉ tiêu và tỷ lệ đạt của từng đơn vị, tiến độ "
        "(số cần đạt đến cuối kỳ, ngày dự kiến đạt chỉ tiêu), số cộng dồn lên cấp trên, điểm và xếp hạng trong từng "
        "cấp, đúng hạn/trễ hạn/chưa nộp kèm lời nhắc, nhiệm vụ, đối chiếu tổng. Ý nghĩa từng số: docs/bao_cao.md.",
    )
    p.add_argument("share", metavar="THƯ_MỤC", help="thư mục dùng chung")
    p.add_argument(
        "--period",
        metavar="KỲ",
        help="mã kỳ hoặc tên kỳ như trong danh sách của mẫu biểu (mặc định: kỳ đang diễn ra theo đồng hồ, "
        "hoặc biến môi trường CHITIEU_NOW)",
    )
    p.add_argument("--level", metavar="CẤP", help="chỉ một cấp, theo mã (huyen) hoặc tên (huyện); mặc định mọi cấp")
    p.add_argument("--json", action="store_true", help="in dạng JSON (campaign, period, warnings, units…)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "serve",
        help="chạy nút «Tổng hợp» như một máy chủ (cho máy không cài Python)",
        description="Phục vụ nút «Tổng hợp» qua HTTP cho xlwings RunRemotePython (VBA) và Office Scripts: nhận sổ "
        "tổng hợp đang mở, nhận tệp mới, tổng hợp theo kỳ và cấp đã chọn, trả kết quả về sổ. Dùng xlwings PRO, miễn "
        "phí cho mục đích phi thương mại (cơ quan nhà nước). Hướng dẫn: docs/nut_tong_hop.md.",
    )
    p.add_argument("share", metavar="THƯ_MỤC", help="thư mục dùng chung")
    p.add_argument("--host", default="127.0.0.1", help="địa chỉ lắng nghe (mặc định 127.0.0.1; 0.0.0.0: mọi máy)")
    p.add_argument("--port", type=int, default=8000, help="cổng (mặc định 8000)")
    p.add_argument("--token", default="", help="mã truy cập máy khách phải gửi (tiêu đề Authorization)")
    p.add_argument("--key", metavar="TỆP", type=Path, help=key_help)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo",
        help="chạy minh họa: bốn ngày báo cáo của kế hoạch mẫu Sóc Trăng 2023",
        description="Minh họa: tạo thư mục dùng chung của kế hoạch mẫu Sóc Trăng 2023 (THƯ_MỤC/thu_muc_chung), "
        "cho các đơn vị điền mẫu biểu và nộp báo cáo trong bốn ngày 18–21/07/2023 (đúng hạn, trễ hạn, một tệp "
        "bị trả lại rồi nộp lại đã sửa, một đơn vị không nộp), xử lý từng tệp, tạo sổ tổng hợp, rồi in xếp hạng "
        "và danh sách đơn vị cần đôn đốc. Chạy lại thì thư mục dùng chung của lần minh họa trước được tạo lại.",
    )
    p.add_argument(
        "dir", metavar="THƯ_MỤC", nargs="?", default="chitieu_demo", help="thư mục minh họa (mặc định chitieu_demo)"
    )
    p.add_argument("--key", metavar="TỆP", type=Path, help=key_help)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chitieu`` with ``argv``; return the exit code (0 success, 2 refused input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return func(args)
    except KeyboardInterrupt:
        err_console.print("Đã dừng theo yêu cầu.")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

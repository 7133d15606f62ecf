"""The README.txt for clerks at the root of the share (Vietnamese, UTF-8 with BOM for Notepad)."""

from __future__ import annotations

from forms.schema import Campaign, format_deadline
from shared_folder_layout.layout import INBOX_DIR, RECEIPTS_DIR, TEMPLATE_DIR, UNITS_DIR


def render_clerk_readme(campaign: Campaign) -> str:
    """Instructions for clerks: where the template is, how to fill and return it, how to read the receipt."""
    info = campaign.info
    schedule = campaign.schedule
    first, last = (schedule[0], schedule[-1]) if schedule else (None, None)
    lines = [
        f"HƯỚNG DẪN NỘP BÁO CÁO — {info.name}",
        "=" * 60,
        "",
        f"Căn cứ: {info.document_ref or info.legal_basis}",
        f"Cơ quan tổng hợp: {info.coordinator}",
        "",
        f"Mỗi đơn vị có một thư mục riêng trong «{UNITS_DIR}», đặt tên theo mã đơn vị. Trong đó:",
        f"  • «{TEMPLATE_DIR}»: mẫu biểu của đơn vị (tệp .xlsx). Không sửa tệp gốc ở đây.",
        f"  • «{INBOX_DIR}»: nơi đơn vị chép tệp báo cáo đã điền.",
        f"  • «{RECEIPTS_DIR}»: phiếu phản hồi cho từng tệp đã nộp.",
        "",
        "CÁCH NỘP",
        f"  1. Chép mẫu biểu trong «{TEMPLATE_DIR}» về máy, mở bằng Excel, LibreOffice hoặc WPS.",
        "  2. Ở ô «Kỳ báo cáo», chọn kỳ trong danh sách.",
        "  3. Nhập số liệu vào các ô màu vàng. Các ô khác đã khóa; không đổi tên, không thêm hay xóa trang.",
        "     Số nhập liền, không dấu chấm ngăn cách hàng nghìn (ví dụ 50802, không phải 50.802).",
        "  4. Lưu lại dạng Excel Workbook (.xlsx), không đặt mật khẩu, không lưu dạng .xls hay có macro.",
        f"  5. Chép tệp vào thư mục «{INBOX_DIR}» của đơn vị mình. Tên tệp không quan trọng.",
        "",
        "PHIẾU PHẢN HỒI",
        f"  Sau ít phút, «{RECEIPTS_DIR}» có một phiếu .txt cho mỗi tệp đã nộp:",
        "  • «ĐÃ TIẾP NHẬN»: số liệu đã được ghi nhận; phiếu ghi lại từng số, kỳ báo cáo, đúng hạn hay trễ hạn.",
        "  • «TRẢ LẠI»: tệp chưa được ghi nhận; phiếu nêu từng lỗi (ô nào, sửa thế nào). Nếu là mẫu biểu của",
        "    đơn vị, kèm theo một bản sao có tô đỏ ô sai và ghi chú cách sửa: sửa ngay trên bản đó rồi nộp lại.",
        "  • «TRÙNG LẶP»: tệp giống hệt một tệp đã nộp; không cần làm gì thêm.",
        "  Nộp lại cho cùng kỳ thì số liệu mới thay số liệu cũ (số cũ vẫn được lưu lại).",
        "",
    ]
    if first and last:
        lines += [
            "KỲ BÁO CÁO",
            f"  Có {len(schedule)} kỳ, từ «{first.label}» (hạn {format_deadline(first.deadline)})",
            f"  đến «{last.label}» (hạn {format_deadline(last.deadline)}).",
            f"  Báo cáo nộp sau hạn vẫn được nhận trong {info.late_days} ngày nhưng ghi là trễ hạn.",
            "",
        ]
    lines.append("Thắc mắc xin liên hệ cơ quan tổng hợp.")
    return "\r\n".join(lines) + "\r\n"

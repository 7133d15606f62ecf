"""Shared fixtures: a small but complete campaign, as YAML text, a Campaign and ke_hoach.xlsx."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.plan_workbook import write_plan_workbook
from forms.plan_yaml import load_yaml
from forms.schema import Campaign

SMALL_CAMPAIGN_YAML = """
info:
  code: THU_NGHIEM_2023
  name: Kế hoạch thử nghiệm cao điểm định danh điện tử
  document_number: 142/KH-UBND
  document_date: 2023-07-14
  issuer: UBND tỉnh Thử Nghiệm
  coordinator: Công an tỉnh (PC06)
  legal_basis: Đề án 06/QĐ-TTg
  start: 2023-07-18
  end: 2023-08-18
attributes:
  CAN_BO: Số cán bộ, công chức
units:
  - {code: TINH, name: Tỉnh Thử Nghiệm, level: tỉnh, reports: false}
  - {code: HUYEN_A, name: Huyện Ánh Dương, parent: TINH, level: huyện, kind: huyện, contact: Nguyễn Văn An, phone: "0299 3822 001"}
  - {code: PHUONG_1, name: Phường 1, parent: HUYEN_A, level: xã, kind: phường, attributes: {CAN_BO: 25}}
  - {code: XA_DAI, name: Xã Đại Ân, parent: HUYEN_A, level: xã, kind: xã, attributes: {CAN_BO: 18}}
indicators:
  - {code: TK_MUC1, name: Tài khoản mức 1 kích hoạt thành công, measure: tài khoản, cumulative: true}
  - {code: TK_MUC2, name: Tài khoản mức 2 kích hoạt thành công, measure: tài khoản, cumulative: true}
  - {code: TK_TONG, name: Tổng tài khoản kích hoạt (mức 1 + mức 2), measure: tài khoản, kind: tổng tính, parts: [TK_MUC1, TK_MUC2], weight: 2}
  - {code: HS_TONG, name: Tổng số hồ sơ thủ tục hành chính, measure: hồ sơ}
  - {code: HS_TRUC_TUYEN, name: Hồ sơ nộp trực tuyến, measure: hồ sơ, relations: "<= HS_TONG"}
  - {code: TL_TRUC_TUYEN, name: Tỷ lệ hồ sơ trực tuyến, measure: "%", kind: tỷ lệ tính, numerator: HS_TRUC_TUYEN, denominator: HS_TONG, weight: 1}
  - {code: CKS_CAN_BO, name: Cán bộ có chữ ký số, measure: người, levels: [xã]}
  - {code: TL_CKS, name: Tỷ lệ cán bộ có chữ ký số, measure: "%", kind: tỷ lệ tính, numerator: CKS_CAN_BO, denominator: CAN_BO, levels: [xã]}
  - {code: SO_HOA, name: Tỷ lệ số hóa hồ sơ, measure: "%", kind: phần trăm}
  - {code: CO_KE_HOACH, name: Đã ban hành kế hoạch cấp huyện, kind: có/không, levels: [huyện]}
  - {code: TIEN_DO, name: Tiến độ triển khai, kind: trạng thái, choices: [Chưa thực hiện, Đang thực hiện, Hoàn thành]}
  - {code: KHO_KHAN, name: Khó khăn, vướng mắc, kind: văn bản}
targets:
  - {unit: TINH, indicator: TK_TONG, value: 100000, daily: 3030}
  - {unit: HUYEN_A, indicator: TK_TONG, value: 50802, daily: 1539, due: 2023-08-18}
  - {unit: PHUONG_1, indicator: TK_TONG, value: 20000, daily: 606}
  - {unit_name: Xã Đại Ân, indicator: TK_TONG, value: 15000, daily: 455}
  - {level: huyện, indicator: TL_TRUC_TUYEN, rate: "60%"}
  - {level: xã, kind: xã, indicator: TL_TRUC_TUYEN, rate: "25%"}
  - {level: xã, kind: phường, indicator: TL_TRUC_TUYEN, rate: "55%"}
  - {level: xã, indicator: TL_CKS, rate: "100%", due: 2023-08-15}
  - {indicator: SO_HOA, rate: "90%"}
periods:
  - {code: N, label: Ngày, start: 2023-07-18, end: 2023-08-18, frequency: hằng ngày, deadline_time: "17:00"}
  - {code: TK, label: Báo cáo tổng kết, start: 2023-07-18, end: 2023-08-18, deadline_date: 2023-08-19, deadline_time: "23:59", note: "Kế hoạch ghi «trước ngày 19/8/2023»."}
"""


@pytest.fixture
def small_yaml(tmp_path: Path) -> Path:
    """The small campaign as a YAML file."""
    path = tmp_path / "ke_hoach.yaml"
    path.write_text(SMALL_CAMPAIGN_YAML, encoding="utf-8")
    return path


@pytest.fixture
def small_campaign(small_yaml: Path) -> Campaign:
    """The small campaign, loaded."""
    return load_yaml(small_yaml)


@pytest.fixture
def small_plan(tmp_path: Path, small_campaign: Campaign) -> Path:
    """The small campaign written as ke_hoach.xlsx."""
    return write_plan_workbook(tmp_path / "ke_hoach.xlsx", small_campaign)

"""Words for the stored codes the console shows (a delivery's status, a unit's kind, an
audit event's outcome, a mail's kind): the codes stay in the database, the filters, the
CSV and the API; a page shows them in its language. A code without a label is shown as it
is (a new one still reads, only untranslated).
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l

from idp.admin.console import bp

DELIVERY_STATUSES = {
    "pending": _l("đang chờ gửi"),
    "delivered": _l("đã gửi được"),
    "sent": _l("đã gửi"),
    "failed": _l("lỗi, sẽ thử lại"),
    "gave_up": _l("đã ngừng thử"),
}
UNIT_KINDS = {
    "province": _l("cấp tỉnh"),
    "department": _l("sở, ban, ngành"),
    "sub_unit": _l("đơn vị trực thuộc"),
    "district": _l("cấp huyện"),
    "office": _l("phòng, ban"),
    "commune": _l("cấp xã"),
    "high_school": _l("trường trung học phổ thông"),
    "school": _l("trường học"),
    "health_centre": _l("trung tâm y tế"),
    "other": _l("khác"),
}
AUDIT_OUTCOMES = {
    "success": _l("thành công"),
    "failure": _l("thất bại"),
    "refused": _l("bị từ chối"),
    "throttled": _l("bị hạn chế tần suất"),
    "locked": _l("bị khóa tạm"),
    "pending": _l("đang chờ"),
    "unavailable": _l("không sẵn sàng"),
}
MAIL_KINDS = {
    "activation": _l("kích hoạt tài khoản"),
    "password_reset": _l("đặt lại mật khẩu"),
    "notice": _l("thông báo"),
    "test": _l("thư thử"),
}


def _labeller(labels: dict) -> Callable[[str | None], str]:
    def label(code: str | None) -> str:
        if code is None:
            return ""
        return str(labels[code]) if code in labels else code

    return label


bp.add_app_template_filter(_labeller(DELIVERY_STATUSES), "delivery_status")
bp.add_app_template_filter(_labeller(UNIT_KINDS), "unit_kind")
bp.add_app_template_filter(_labeller(AUDIT_OUTCOMES), "audit_outcome")
bp.add_app_template_filter(_labeller(MAIL_KINDS), "mail_kind")

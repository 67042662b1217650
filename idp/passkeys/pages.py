"""What the passkey pages say: the words for each refusal, in the reader's language."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.passkeys.service import PasskeyError


def message(reason: str) -> str:
    """A sentence for a PasskeyError reason (or a notice code of the account page)."""
    messages = {
        "unavailable": _("Máy chủ này chưa hỗ trợ khóa truy cập."),
        "too_many": _(
            "Bạn đã có số khóa truy cập tối đa. Hãy xóa một khóa trước khi thêm khóa mới."
        ),
        "expired": _("Yêu cầu đã hết hạn hoặc đã được dùng. Vui lòng thử lại."),
        "invalid": _("Khóa truy cập không được xác nhận. Vui lòng thử lại."),
        "already_registered": _("Khóa truy cập này đã được đăng ký."),
        "replayed": _("Yêu cầu đã được dùng. Vui lòng thử lại."),
        "unknown_credential": _("Khóa truy cập này không dùng được cho tài khoản nào ở đây."),
        "disabled": _("Khóa truy cập này không dùng được cho tài khoản nào ở đây."),
        "cloned": _(
            "Khóa truy cập này có dấu hiệu bị sao chép nên đã bị từ chối. Vui lòng liên hệ bộ phận hỗ trợ."  # noqa: E501
        ),
        "no_passkeys": _("Bạn chưa có khóa truy cập nào."),
        "bad_name": _("Tên khóa truy cập phải có từ 1 đến 64 ký tự."),
        "not_found": _("Không tìm thấy khóa truy cập này."),
        "password_change": _(
            "Mật khẩu của tài khoản này vừa được đặt lại. Vui lòng đăng nhập bằng mật khẩu tạm thời để chọn mật khẩu mới."  # noqa: E501
        ),
        "added": _("Đã thêm khóa truy cập."),
        "renamed": _("Đã đổi tên khóa truy cập."),
        "removed": _("Đã xóa khóa truy cập."),
    }
    return messages.get(reason, messages["invalid"])


def error_message(error: PasskeyError) -> str:
    return message(error.reason)


# What the account page may say after an action: these worked, the others did not.
SUCCESSES = ("added", "renamed", "removed")
NOTICES = (*SUCCESSES, "bad_name", "not_found")

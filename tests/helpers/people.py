"""The person the `make_user` fixture makes unless told otherwise."""

EMAIL = "nguyen.van.an@haugiang.gov.vn"
PASSWORD = "Mật-khẩu-đủ-dài-2026"

from mail.smtp_server import smtp_server  # noqa: F401  (a fixture)

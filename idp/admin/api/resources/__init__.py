"""The admin API's resources: one module per group of endpoints.

Every module here is loaded by idp.admin.api.init_app (no list to edit). A module adds its
views to `idp.admin.api.blueprint.bp`, declares each with `@operation(ADMIN_READ)` or
`@operation(ADMIN_WRITE)` (idp.admin.api.auth), and describes them in a module-level
`OPENAPI` fragment (idp.admin.api.openapi). See `me` and `units` for examples.
"""

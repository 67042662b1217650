"""Code the tests share: plain functions and classes, imported as `helpers.<module>`
(pyproject.toml puts tests/ on the path). Fixtures stay in the conftest.py files.
"""

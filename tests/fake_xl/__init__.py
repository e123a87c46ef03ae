"""A fake ``xl`` for tests: see fakexl.py (behaviour), render.py (xl's
formats), harness.py (using it from a test) and fixtures/ (real captures).
"""

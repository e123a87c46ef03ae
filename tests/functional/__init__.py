import pytest

# Plain asserts in the helpers report their values, as in the tests.
pytest.register_assert_rewrite('tests.functional.base')

import pytest

from munet.errors import InvalidInputError
from munet.names import check_name


@pytest.mark.parametrize("name", ["fashion_mnist", "task-2", "a", "v1.2", "X" * 100])
def test_safe_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "..", ".", "a/b", "../x", "/abs", "a\\b", "-x", "x" * 101,
                                  "white space", None, 3, "é"])
def test_unsafe_names_are_refused_with_a_fix(name):
    with pytest.raises(InvalidInputError) as error:
        check_name(name)
    message = str(error.value)
    assert repr(name) in message and "Fix:" in message

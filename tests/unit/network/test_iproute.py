import pytest

from steelyard.network.iproute import IpCommandError, json_documents


def test_json_documents_splits_back_to_back_lists() -> None:
    text = '[{"a":1}]\n[]\n[{"b":[2,3]}]\n'
    assert json_documents(text) == [[{"a": 1}], [], [{"b": [2, 3]}]]


def test_json_documents_of_nothing() -> None:
    assert json_documents("  \n") == []


def test_json_documents_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        json_documents("[1] oops")


def test_ip_command_error_says_what_failed() -> None:
    err = IpCommandError(["ip", "-batch", "-"], 1, "Cannot find device\n", "link del x\n")
    assert "link del x" in str(err) and "Cannot find device" in str(err)
    assert err.returncode == 1 and err.stderr == "Cannot find device"

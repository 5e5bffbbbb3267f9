"""The server's closed sets of words: the enums, what the OpenAPI contract and ``/v1/codes`` state."""

from __future__ import annotations

from typing import get_args

import pytest

from linkserver.errors import API_CODES, CODES, REFUSALS, ApiError, ErrorCode
from linkserver.schemas import OperationRequest, OperationResponse
from linkserver.words import OperationKind, OperationStatus


def test_the_operation_kinds_are_the_requests_and_each_is_documented() -> None:
    assert list(OperationKind) == ["prelink", "link_status", "unlink", "password_reset", "mfa_reset",
                                   "salvage"]
    assert get_args(OperationRequest.model_fields["kind"].annotation) == tuple(OperationKind)
    assert [kind for kind in OperationKind if not kind.waits_for_staff] == [OperationKind.LINK_STATUS]
    assert [kind for kind in OperationKind if kind.shows_code] == [OperationKind.MFA_RESET,
                                                                   OperationKind.SALVAGE]
    assert all(kind.meaning.endswith(".") for kind in OperationKind)


def test_the_operation_statuses_are_the_answers_and_each_is_documented() -> None:
    assert list(OperationStatus) == ["awaiting_approval", "approved", "refused", "completed", "failed",
                                     "cancelled", "expired"]
    assert get_args(OperationResponse.model_fields["status"].annotation) == tuple(OperationStatus)
    assert all(status.meaning.endswith(".") for status in OperationStatus)


def test_every_error_code_is_documented_once() -> None:
    assert all(code.meaning.endswith(".") and code.value == code.name.lower() for code in ErrorCode)
    assert [*CODES, *API_CODES] == list(ErrorCode)
    assert set(CODES) == set(REFUSALS)
    assert {code: code.meaning for code in ErrorCode} == {**CODES, **API_CODES}


def test_an_api_error_takes_only_a_documented_code() -> None:
    error = ApiError(ErrorCode.NO_MATCH, 403)
    assert (error.code, error.message) == ("no_match", ErrorCode.NO_MATCH.meaning)
    with pytest.raises(TypeError, match=r"^'no_such_code' is not a documented error code$"):
        ApiError("no_such_code", 400)  # type: ignore[arg-type]

"""The write path: one transaction, then notify; races become 409s; notify failures do not
undo a committed write."""

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.auth import KeyCache
from steelyard.api.deps import Deps
from steelyard.api.settings import ApiSettings
from steelyard.db import models
from steelyard.db.access import Written
from steelyard.db.apikeys import create_api_key
from steelyard.model.faults import Conflict


def test_integrity_errors_are_conflicts(sessions: sessionmaker[Session]) -> None:
    notified: list[str] = []
    deps = Deps(ApiSettings(auth="noauth"), sessions, notified.append, sessions)

    def racing(_: Session) -> Written[None]:
        raise IntegrityError("INSERT ...", None, Exception("UNIQUE constraint failed"))

    with pytest.raises(Conflict):
        deps.write(racing)
    assert notified == []


def test_a_failing_notify_does_not_fail_the_write(sessions: sessionmaker[Session]) -> None:
    def broken(_: str) -> None:
        raise RuntimeError("reconciler gone")

    deps = Deps(ApiSettings(auth="noauth"), sessions, broken, sessions)

    assert deps.write(lambda _: Written("done", "lb-1")) == "done"


def test_verified_keys_are_remembered_for_a_while(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        token = create_api_key(session, "p1", "member")
    remembering, forgetful = KeyCache(ttl_s=60), KeyCache(ttl_s=0)
    assert remembering.verify(token, sessions) == ("p1", "member")
    assert forgetful.verify(token, sessions) == ("p1", "member")

    with sessions.begin() as session:
        session.execute(delete(models.ApiKey))

    assert remembering.verify(token, sessions) == ("p1", "member")
    assert forgetful.verify(token, sessions) is None
    assert remembering.verify(token + "x", sessions) is None

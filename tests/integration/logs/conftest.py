"""The agent suite's fixtures: a short state dir (HAProxy stopped at teardown), a PKI,
backends and an in-process agent over mTLS."""

from tests.integration.agent.conftest import (
    agent,
    backends,
    make_backend,
    pki,
    short_tmp,
    state_dir,
    threaded_agent,
)

__all__ = ["agent", "backends", "make_backend", "pki", "short_tmp", "state_dir", "threaded_agent"]

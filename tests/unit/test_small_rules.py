import pytest
from pydantic import ValidationError

from services.builder.domain import env_key
from services.kit.settings import Settings
from services.kit.store import Conflict, retry_on_conflict


def test_environments_are_shared_by_equal_requirements():
    assert env_key(["numpy", "pillow>=10"], "3.11") == env_key(["pillow>=10", " numpy", "numpy"], "3.11")
    assert env_key(["numpy"], "3.11") != env_key(["numpy"], "3.12")
    assert env_key(["numpy"], "3.11") != env_key(["numpy<2"], "3.11")


async def test_retry_on_conflict_tries_again_then_lets_the_last_conflict_through():
    calls = []

    async def twice_then_fine():
        calls.append(1)
        if len(calls) < 3:
            raise Conflict("changed meanwhile")
        return "written"
    assert await retry_on_conflict(twice_then_fine) == "written" and len(calls) == 3

    async def always():
        calls.append(1)
        raise Conflict("never settles")
    calls.clear()
    with pytest.raises(Conflict):
        await retry_on_conflict(always, tries=4)
    assert len(calls) == 4


def test_a_lambda_timeout_shorter_than_the_longest_deadline_is_refused():
    with pytest.raises(ValidationError, match="max_deadline_s"):
        Settings(runtime_backend="lambda", lambda_timeout_s=300, max_deadline_s=900)
    assert Settings(runtime_backend="lambda", lambda_timeout_s=300, max_deadline_s=300).lambda_timeout_s == 300
    assert Settings(runtime_backend="local", lambda_timeout_s=60).max_deadline_s == 900

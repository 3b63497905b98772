"""The job service's worker pool (Harbor's jobservice `max_job_workers`): executions of several policies
run side by side up to the pool size, set per emulator process by HARBOR_EMULATOR_JOB_WORKERS."""

import time

import pytest

from harbor_emulator import jobs

from ..conftest import ADMIN, requires_distribution, start_harbor
from ..images import push_image


@pytest.mark.parametrize("value,expected", [(None, jobs.WORKERS), ("", jobs.WORKERS), ("10", 10), (" 1 ", 1)])
def test_worker_count_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(jobs.WORKERS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(jobs.WORKERS_VARIABLE, value)
    assert jobs.configured_workers() == expected


@pytest.mark.parametrize("value", ["0", "101", "four", "-2"])
def test_a_bad_worker_count_is_refused(monkeypatch, value):
    monkeypatch.setenv(jobs.WORKERS_VARIABLE, value)
    with pytest.raises(ValueError, match="HARBOR_EMULATOR_JOB_WORKERS must be a number of workers from 1 to 100"):
        jobs.configured_workers()


@requires_distribution
def test_executions_run_side_by_side_up_to_the_pool_size(monkeypatch, tmp_path):
    """Three policies copy the emulator into itself at 1 KB/s (seconds per copy): with two workers, two
    copies run at once and the third execution waits, Pending, until a worker is free."""
    monkeypatch.setenv(jobs.WORKERS_VARIABLE, "2")
    harbor = start_harbor(tmp_path / "harbor", registry=True)
    api, execution_ids = harbor.client(), []
    try:
        api.create_project("proj")
        push_image(harbor.url, "proj/app", "v1", size=4000, auth=ADMIN)
        registry_id = api.create("/registries", {"name": "self", "type": "harbor", "url": harbor.url,
                                                 "credential": {"type": "basic", "access_key": ADMIN[0],
                                                                "access_secret": ADMIN[1]}})
        for index in range(3):
            policy_id = api.create("/replication/policies", {
                "name": "copy%d" % index, "dest_registry": {"id": registry_id}, "enabled": True, "speed": 1,
                "dest_namespace": "copy%d" % index, "filters": [{"type": "name", "value": "proj/**"}]})
            execution_ids.append(api.create("/replication/executions", {"policy_id": policy_id}))

        def statuses():
            return [api.get("/replication/executions/%d" % e).json()["status"] for e in execution_ids]

        deadline = time.monotonic() + 15
        while statuses().count("InProgress") < 2:
            assert time.monotonic() < deadline, statuses()
            time.sleep(0.05)
        time.sleep(0.5)  # a third worker, if there were one, would have taken the last execution by now
        now = statuses()
        assert sorted(now) == ["InProgress", "InProgress", "Pending"], now
    finally:
        for execution_id in execution_ids:
            api.put("/replication/executions/%d" % execution_id)
        harbor.server.stop()

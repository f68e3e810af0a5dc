# -*- coding: utf-8 -*-
"""oms: the migration task calls (CreateTask, ShowTask, StartTask): where they go, signed, and how often."""
import json

import requests
import responses

from cos2oms import oms_tasks
from tests import support

TASKS = "https://oms.test.invalid/v2/%s/tasks" % support.PROJECT


def client(max_attempts=3):
    return oms_tasks.TaskClient(requests.Session(), support.SYNC_URL, support.HW_AK, support.HW_SK, 5.0, max_attempts,
                         sleep=lambda seconds: None, rand=lambda: 0.5)


def test_tasks_address_is_the_sync_tasks_project():
    assert client().tasks_url() == TASKS


@responses.activate
def test_create_task_is_signed_and_sent_once_even_when_it_failed():
    responses.add(responses.POST, TASKS, status=503, json={"error_code": "OMS.0000", "error_msg": "busy"})
    answer = client().create_task({"task_type": "prefix"})
    assert (answer.ok, answer.status, answer.error_code) == (False, 503, "OMS.0000")
    assert len(responses.calls) == 1
    request = responses.calls[0].request
    assert json.loads(request.body) == {"task_type": "prefix"}
    assert request.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=%s" % support.HW_AK)
    assert request.headers["Content-Type"] == "application/json"


@responses.activate
def test_create_task_answer_gives_the_id():
    responses.add(responses.POST, TASKS, json={"id": 77, "name": "task-77"})
    assert client().create_task({}).body == {"id": 77, "name": "task-77"}


@responses.activate
def test_show_task_is_retried_as_a_query_and_start_task_takes_an_empty_200():
    responses.add(responses.GET, TASKS + "/77", status=500)
    responses.add(responses.GET, TASKS + "/77", json={"id": 77, "status": 2})
    responses.add(responses.POST, TASKS + "/77/start", body=b"")
    shown = client().show_task(77)
    assert shown.body == {"id": 77, "status": 2}
    started = client().start_task(77, {"migrate_failed_object": True})
    assert started.ok and started.body == {}
    assert json.loads(responses.calls[-1].request.body) == {"migrate_failed_object": True}
    assert [call.request.method for call in responses.calls] == ["GET", "GET", "POST"]


@responses.activate
def test_refused_credentials_are_said_and_not_retried():
    responses.add(responses.GET, TASKS + "/77", status=401, json={"error_code": "APIG.0301", "error_msg": "no"})
    answer = client().show_task(77)
    assert answer.refused and len(responses.calls) == 1


@responses.activate
def test_a_task_id_cannot_leave_its_path():
    responses.add(responses.GET, TASKS + "/..%2Fsync-tasks", json={"id": 1})
    assert client().show_task("../sync-tasks").ok

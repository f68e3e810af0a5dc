# -*- coding: utf-8 -*-
"""Migration tasks' bodies (against huaweicloudsdkoms's request models where it is installed), list files,
descriptions, redaction and the reading of ShowTask's answer."""
import json
import threading
from urllib.parse import unquote

import pytest

from cos2oms import bucket_settings, migration, settings as settings_module
from cos2oms.oms_tasks import OmsAnswer
from tests import support

SDK = migration.sdk_models()
needs_sdk = pytest.mark.skipif(SDK is None, reason="huaweicloudsdkoms is not installed here")
OBS_ENV = dict(SOURCE_BUCKET="photos-1253970026", SOURCE_REGION="ap-shanghai", OBS_BUCKET="migrated-photos",
               OBS_ENDPOINT="https://obs.cn-north-4.myhuaweicloud.com", OBS_AK="obs-ak", OBS_SK="obs-sk",
               OBS_PREFIX="from-cos/")
SYNC_TASK = {"object_overwrite_mode": "NO_OVERWRITE", "consistency_check": "crc64", "dst_region": "cn-north-4"}


def nodes(**overrides):
    environ = support.env(**dict(OBS_ENV, **overrides))
    settings = settings_module.load_settings(environ=environ, constants={})
    source = bucket_settings.load_source(environ, settings)
    obs = bucket_settings.load_obs(environ, settings)
    return settings, source, obs


def prefix_body(**overrides):
    settings, source, obs = nodes(**overrides)
    return migration.create_body(migration.PREFIX, migration.source_node(settings, source, object_key=["a/", "b/"]),
                                 migration.destination_node(obs, "cn-north-4"), "cos2oms backfill", SYNC_TASK,
                                 migrate_since=1714521600.9)


def list_body():
    settings, source, obs = nodes()
    files = migration.list_file("lists", ["oms-list-files/x/list-00001.txt", "oms-list-files/x/list-00002.txt"])
    return migration.create_body(migration.LIST, migration.source_node(settings, source, list_file=files),
                                 migration.destination_node(obs, "cn-north-4"), "cos2oms verify", SYNC_TASK)


def sdk_round_trip(model_name, body):
    """The body as huaweicloudsdkoms's model serialises it after being built from it: what the SDK would send."""
    from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization

    def build(name, value):
        model = getattr(SDK, name)
        kwargs = {}
        for field, kind in model.openapi_types.items():
            if field in value:
                item = value[field]
                if kind.startswith("list[") and kind[5:-1] in dir(SDK):
                    item = [build(kind[5:-1], v) for v in item]
                elif kind in dir(SDK):
                    item = build(kind, item)
                kwargs[field] = item
        return model(**kwargs)

    return sanitize_for_serialization(build(model_name, body))


@needs_sdk
def test_prefix_body_is_what_the_sdk_would_send():
    body = json.loads(json.dumps(prefix_body()))
    migration.check_body("CreateTaskReq", body)
    assert sdk_round_trip("CreateTaskReq", body) == body


@needs_sdk
def test_list_and_start_bodies_are_what_the_sdk_would_send():
    body = json.loads(json.dumps(list_body()))
    migration.check_body("CreateTaskReq", body)
    assert sdk_round_trip("CreateTaskReq", body) == body
    start = json.loads(json.dumps(migration.start_body(body["src_node"], body["dst_node"])))
    migration.check_body("StartTaskReq", start)
    assert sdk_round_trip("StartTaskReq", start) == start


def test_prefix_body_fields():
    body = prefix_body()
    assert body["task_type"] == "prefix"
    assert body["migrate_since"] == 1714521600 and type(body["migrate_since"]) is int  # whole seconds
    src = body["src_node"]
    assert (src["cloud_type"], src["bucket"], src["app_id"], src["region"]) == (
        "Tencent", "photos-1253970026", "1253970026", "ap-shanghai")
    assert (src["ak"], src["sk"], src["security_token"]) == (support.COS_ID, support.COS_KEY, support.COS_TOKEN)
    assert src["object_key"] == ["a/", "b/"]
    assert body["dst_node"] == {"ak": "obs-ak", "sk": "obs-sk", "bucket": "migrated-photos", "region": "cn-north-4",
                                "save_prefix": "from-cos/"}
    assert body["enable_failed_object_recording"] is True
    assert (body["object_overwrite_mode"], body["consistency_check"]) == ("NO_OVERWRITE", "crc64")


def test_fixed_cos_keys_send_no_token_and_no_prefix_no_save_prefix():
    body = prefix_body(COS_SECRET_ID="fixed-id", COS_SECRET_KEY="fixed-key", OBS_PREFIX=None)
    assert (body["src_node"]["ak"], body["src_node"]["sk"]) == ("fixed-id", "fixed-key")
    assert "security_token" not in body["src_node"] and "save_prefix" not in body["dst_node"]


def test_several_list_files_by_folder_and_number_one_by_name():
    many = list_body()["src_node"]["list_file"]
    assert many == {"obs_bucket": "lists", "list_file_key": "oms-list-files/x/", "list_file_num": "2"}
    assert migration.list_file("b", ["oms-list-files/y/list-00001.txt"]) == {
        "obs_bucket": "b", "list_file_key": "oms-list-files/y/list-00001.txt"}


@needs_sdk
@pytest.mark.parametrize("change, problem", [
    (lambda b: b.update(migrate_since="1714521600"), "migrate_since: int expected"),
    (lambda b: b.update(enable_failed_object_recording="true"), "enable_failed_object_recording: bool expected"),
    (lambda b: b["src_node"].update(object_key="a/"), "src_node.object_key: a list expected"),
    (lambda b: b["src_node"].update(appid="1"), "src_node.appid: no such field in SrcNodeReq"),
    (lambda b: b["dst_node"].update(save_prefix=1), "dst_node.save_prefix: str expected"),
    (lambda b: b.update(migrate_since=True), "migrate_since: int expected"),
])
def test_a_body_that_does_not_match_the_model_is_refused(change, problem):
    body = prefix_body()
    change(body)
    with pytest.raises(migration.BodyError) as caught:
        migration.check_body("CreateTaskReq", body)
    assert problem in str(caught.value)


def test_without_the_sdk_the_check_is_skipped_quietly(monkeypatch):
    class NoModels(object):
        pass

    with pytest.raises(migration.BodyError):
        migration.check_body("CreateTaskReq", {"x": 1}, models=NoModels())
    monkeypatch.setattr(migration, "sdk_models", lambda: None)
    migration.check_body("CreateTaskReq", {"x": 1})


def test_description_within_limits():
    text = migration.description("cos2oms <b>&\"quoted\"' ^caret\nline " + "x" * 400)
    assert len(text) == 255
    assert not set(text) & set("^<>&\"'\n")
    assert text.startswith("cos2oms _b___quoted__ _caret_line ")


def test_redacted_hides_every_secret_and_nothing_else():
    body = prefix_body()
    body_start = migration.start_body(body["src_node"], body["dst_node"])
    shown = json.dumps([migration.redacted(body), migration.redacted(body_start)])
    for secret in (support.COS_KEY, support.COS_ID, support.COS_TOKEN, "obs-ak", "obs-sk"):
        assert secret not in shown
    assert shown.count('"<redacted>"') == 5 + 5
    assert migration.redacted(body)["src_node"]["bucket"] == "photos-1253970026"


NAMES = ["with space.jpg", "plus+sign.jpg", "percent%41.jpg", "中文/图片.jpg", "ctl\x01\x1f\x7f.jpg", "tab\tnew\nline",
         "cr\rend", "a/b/c.txt", "~tilde"]


def test_list_file_lines_are_url_encoded_one_name_a_line():
    content = b"".join(migration.split_list(NAMES))
    lines = content.decode("ascii").split("\n")
    assert lines[-1] == "" and len(lines) == len(NAMES) + 1
    assert [unquote(line) for line in lines[:-1]] == NAMES
    assert all(32 < ord(c) < 127 for line in lines for c in line)
    assert lines[1] == "plus%2Bsign.jpg" and lines[0] == "with%20space.jpg" and lines[2] == "percent%2541.jpg"


def test_list_files_split_at_lines_and_bytes():
    keys = ["k%d" % i for i in range(7)]
    by_lines = list(migration.split_list(keys, max_lines=3))
    assert [part.count(b"\n") for part in by_lines] == [3, 3, 1]
    by_bytes = list(migration.split_list(keys, max_bytes=7))  # "k0\n" is 3 bytes: two a file
    assert [len(part) for part in by_bytes] == [6, 6, 6, 3]
    assert b"".join(by_bytes) == b"".join(by_lines)
    assert list(migration.split_list([])) == []


def test_list_folder_and_names():
    folder = migration.list_folder(now=1714564800, unique="ab12")
    assert folder == "oms-list-files/20240501T120000Z-ab12/"
    assert migration.list_file_name(folder, 2) == folder + "list-00002.txt"


def test_task_state_reads_show_task():
    state = migration.TaskState(7, {"status": 5, "total_num": 10, "successful_num": 8, "failed_num": 1,
                                    "skipped_num": 1, "complete_size": 99, "total_size": 120,
                                    "failed_object_record": {"list_file_key": "f.txt"},
                                    "src_node": {"list_file": {"obs_bucket": "b", "list_file_key": "k/",
                                                               "list_file_num": "3"}}})
    assert (state.status_name, state.finished, state.complete, state.done) == ("succeeded", True, False, 10)
    assert (state.bytes, state.total_bytes, state.failed_list, state.list_file) == (99, 120, "f.txt", ("b", "k/", 3))
    odd = migration.TaskState(7, {"status": 2, "total_num": "10", "failed_num": True})
    assert (odd.finished, odd.total, odd.failed, odd.list_file) == (False, 0, 0, None)


class Client(object):
    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = 0

    def show_task(self, task_id):
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def answer(status=None, body=None):
    return OmsAnswer("show_task", status, body)


@pytest.mark.parametrize("answers, outcome, asked", [
    ([answer(200, {"status": 2}), answer(200, {"status": 4})], "finished", 2),
    ([answer(503), answer(200, {"status": 5})], "finished", 2),
    ([answer(200, {"status": 2}), answer(401)], "refused", 2),
    ([answer(None)], "lost", 3),
    ([answer(404)], "rejected", 1),  # a task OMS never showed: a wrong id, said as such (exit 2)
    ([answer(400)], "rejected", 1),  # OMS.0054, "Invalid task ID", is a 400
    ([answer(200, {"status": 2}), answer(400)], "lost", 2),  # a task it showed: not bad configuration
    ([answer(429)], "lost", 3),
])
def test_follow_until_the_end(answers, outcome, asked):
    client = Client(answers)
    follow = migration.Follow(client, 1, threading.Event(), interval=0.001, max_misses=3)
    follow.run()
    assert (follow.outcome, client.asked) == (outcome, asked)


def test_follow_stops_when_asked_to():
    stopping = threading.Event()
    seen = []
    follow = migration.Follow(Client([answer(200, {"status": 2})]), 1, stopping,
                              on_state=lambda s: (seen.append(s), stopping.set()), interval=60)
    follow.run()
    assert follow.outcome == "interrupted" and len(seen) == 1


def test_after_a_restart_the_old_end_is_not_taken_for_the_new_one():
    old = {"status": 5, "total_num": 4, "successful_num": 3, "failed_num": 1}
    client = Client([answer(200, old), answer(200, dict(old, status=2)), answer(200, dict(old, failed_num=0,
                                                                                          successful_num=4))])
    follow = migration.Follow(client, 1, threading.Event(), interval=0.001)
    state = follow.run(stale=migration.TaskState(1, old))
    assert (follow.outcome, state.succeeded, client.asked) == ("finished", 4, 3)


def test_an_end_that_stays_as_it_was_is_taken_after_a_few_answers():
    old = {"status": 5, "total_num": 4, "successful_num": 3, "failed_num": 1}
    client = Client([answer(200, old)])
    follow = migration.Follow(client, 1, threading.Event(), interval=0.001)
    state = follow.run(stale=migration.TaskState(1, old), max_stale=3)
    assert (follow.outcome, state.failed, client.asked) == ("finished", 1, 4)

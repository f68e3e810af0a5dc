"""The loopback OMS's migration tasks (local/oms_tasks.py): CreateTask, ShowTask and StartTask, driven with
huaweicloudsdkoms's own client (the oracle for the request shapes and the answers' fields) and, for bodies the
SDK cannot build, with raw requests signed by huaweicloudsdkcore's signer."""

import json
from urllib.parse import quote, urlsplit

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkoms.v2 import (CreateTaskReq, CreateTaskRequest, DstNodeReq, ListFile, OmsClient, ShowTaskRequest,
                                  SrcNodeReq, StartTaskReq, StartTaskRequest)

from local import fake_credentials as fc
from local.obs_server import put_object, read_object
from local.world import World

SOURCE = "photos-1253970026"
DESTINATION = "migrated-photos"
ODD_NAMES = ["a b.jpg", "a+b.jpg", "100%.jpg", "ctl\x01\x1f.jpg", "照片/猫.jpg", "new\nline.jpg"]
TEXT = "text/plain"  # what OMS requires of a list file's Content-Type


@pytest.fixture
def world():
    with World(oms=True, cos=True, obs=True, source_bucket=SOURCE, obs_bucket=DESTINATION) as world:
        world.obs.create_bucket(DESTINATION)
        yield world


@pytest.fixture
def client(world):
    return (OmsClient.new_builder().with_credentials(BasicCredentials(fc.HW_AK, fc.HW_SK, "proj"))
            .with_endpoint(world.oms.url).build())


def src(**fields):
    node = dict(cloud_type="Tencent", region="ap-guangzhou", ak=fc.COS_SECRET_ID, sk=fc.COS_SECRET_KEY,
                app_id="1253970026", bucket="photos")
    return SrcNodeReq(**{**node, **fields})


def dst(**fields):
    return DstNodeReq(**{**dict(ak=fc.OBS_AK, sk=fc.OBS_SK, bucket=DESTINATION, region="cn-north-4"), **fields})


def create(client, **fields):
    body = CreateTaskReq(**{**dict(task_type="prefix", src_node=src(object_key=[""]), dst_node=dst()), **fields})
    return client.create_task(CreateTaskRequest(body=body)).id


def follow(client, task_id, limit=20):
    """ShowTask until the task ends; every answer."""
    answers = []
    for _ in range(limit):
        answers.append(client.show_task(ShowTaskRequest(task_id=str(task_id))))
        if answers[-1].status in (3, 4, 5):
            return answers
    raise AssertionError(f"task {task_id} did not end: {[a.status for a in answers]}")


def signed_post(world, path, body):
    """A raw POST signed by huaweicloudsdkcore (for bodies the SDK's models cannot express)."""
    host = urlsplit(world.oms.url).netloc
    request = Signer(BasicCredentials(fc.HW_AK, fc.HW_SK)).sign(SdkRequest(
        method="POST", schema="http", host=host, resource_path=path, query_params=[],
        header_params={"Content-Type": "application/json"}, body=body))
    return requests.post(world.oms.url + path, data=body, headers=request.header_params, timeout=5)


def seed(world, keys, mtime=5000, body=b"data"):
    for key in keys:
        put_object(world.cos, SOURCE, key, body, mtime)


def test_prefix_task_copies_the_prefixes_since_migrate_since_under_save_prefix(world, client):
    seed(world, ["a/new1", "a/new2", "b/new3"], mtime=5000)
    seed(world, ["a/old"], mtime=1000)
    seed(world, ["c/other"])
    task_id = create(client, src_node=src(object_key=["a/", "b/"]), dst_node=dst(save_prefix="p/"),
                     migrate_since=2000, description="backfill")
    answers = follow(client, task_id)
    statuses = [a.status for a in answers]
    assert statuses[0] == 1 and 2 in statuses and statuses[-1] == 5, statuses
    assert [a.successful_num for a in answers] == sorted(a.successful_num for a in answers)  # progresses
    last = answers[-1]
    assert (last.total_num, last.successful_num, last.failed_num, last.skipped_num) == (3, 3, 0, 0)
    assert last.complete_size == last.total_size == 12 and last.migrate_since == 2_000_000  # ms in ShowTask
    assert last.task_type == "prefix" and last.dst_node.save_prefix == "p/" and last.src_node.object_key == ["a/", "b/"]
    assert sorted(world.obs.objects(DESTINATION)) == ["p/a/new1", "p/a/new2", "p/b/new3"]
    operation, body = world.oms.tasks.bodies[0]
    assert operation == "CreateTask" and body["migrate_since"] == 2000
    assert body["src_node"]["object_key"] == ["a/", "b/"]
    assert all(r.verified for r in world.oms.requests)


def test_whole_bucket_is_object_key_empty_string(world, client):
    seed(world, ["x", "y/z"])
    answers = follow(client, create(client))
    assert answers[-1].successful_num == 2 and sorted(world.obs.objects(DESTINATION)) == ["x", "y/z"]


def test_overwrite_mode_skips_what_the_destination_keeps(world, client):
    seed(world, ["same", "changed"], mtime=5000)
    put_object(world.obs, DESTINATION, "same", b"keep", 9000)
    put_object(world.obs, DESTINATION, "changed", b"longer than source", 9000)
    last = follow(client, create(client))[-1]
    assert (last.successful_num, last.skipped_num) == (1, 1)
    assert read_object(world.obs, DESTINATION, "same") == b"keep"
    assert read_object(world.obs, DESTINATION, "changed") == b"data"
    put_object(world.obs, DESTINATION, "changed", b"other!", 9000)
    last = follow(client, create(client, object_overwrite_mode="NO_OVERWRITE"))[-1]
    assert (last.successful_num, last.skipped_num) == (0, 2) and last.object_overwrite_mode == "NO_OVERWRITE"


@pytest.mark.parametrize("folder", [False, True])
def test_list_task_reads_url_encoded_names_from_the_list_bucket(world, client, folder):
    seed(world, ODD_NAMES + ["not listed"])
    world.obs.create_bucket("lists")
    lines = [quote(name, safe="") for name in ODD_NAMES]
    if folder:  # split over two list files in one folder
        put_object(world.obs, "lists", "oms-list-files/t/1.txt", "\n".join(lines[:3]).encode(), content_type=TEXT)
        put_object(world.obs, "lists", "oms-list-files/t/2.txt", ("\n".join(lines[3:]) + "\n").encode(),
                   content_type=TEXT)
        key = "oms-list-files/t/"
    else:
        put_object(world.obs, "lists", "oms-list-files/t.txt", "\n".join(lines).encode(), content_type=TEXT)
        key = "oms-list-files/t.txt"
    listing = ListFile(list_file_key=key, obs_bucket="lists")
    last = follow(client, create(client, task_type="list", src_node=src(list_file=listing)))[-1]
    assert (last.total_num, last.successful_num) == (len(ODD_NAMES), len(ODD_NAMES))
    assert sorted(world.obs.objects(DESTINATION)) == sorted(ODD_NAMES)


@pytest.mark.parametrize("key, body, content_type, problem", [
    ("l.txt", b"a\n", "binary/octet-stream", "not text/plain"),
    ("l.txt", b"a\n", None, "not text/plain"),
    ("l.csv", b"a\n", TEXT, "not a .txt file"),
    ("l.txt", b"\xef\xbb\xbfa\n", TEXT, "BOM"),
    ("l.txt", b"\xff\xfea\n", TEXT, "not UTF-8"),
])
def test_a_list_file_oms_would_not_read_fails_the_task_with_trf_0019(world, client, key, body, content_type, problem):
    seed(world, ["a"])
    put_object(world.obs, "lists", key, body, content_type=content_type)
    listing = ListFile(list_file_key=key, obs_bucket="lists")
    last = follow(client, create(client, task_type="list", src_node=src(list_file=listing)))[-1]
    assert last.status == 4 and last.error_reason.error_code == "TRF.0019" and problem in last.error_reason.error_msg
    assert world.obs.objects(DESTINATION) == {}


def test_failed_objects_are_recorded_and_a_restart_retries_only_them(world, client):
    seed(world, ["ok1", "ok2", "bad 1", "bad+2"])
    world.oms.tasks.fail_objects(["bad 1", "bad+2"])
    task_id = create(client, enable_failed_object_recording=True)
    last = follow(client, task_id)[-1]
    assert (last.status, last.successful_num, last.failed_num) == (4, 2, 2)
    recorded = read_object(world.obs, DESTINATION, last.failed_object_record.list_file_key).decode().split()
    assert sorted(recorded) == ["bad%201", "bad%2B2"]
    put_object(world.obs, DESTINATION, "ok1", b"touched", 9999)  # a full rerun would skip or recount it
    client.start_task(StartTaskRequest(task_id=str(task_id), body=StartTaskReq(
        src_ak=fc.COS_SECRET_ID, src_sk=fc.COS_SECRET_KEY, dst_ak=fc.OBS_AK, dst_sk=fc.OBS_SK,
        migrate_failed_object=True)))
    last = follow(client, task_id)[-1]
    # OMS's figures are the task's: the first run's total, successes accumulated
    assert (last.status, last.total_num, last.successful_num, last.failed_num) == (5, 4, 4, 0)
    assert read_object(world.obs, DESTINATION, "ok1") == b"touched"
    assert "bad 1" in world.obs.objects(DESTINATION) and world.oms.tasks.bodies[-2][0] == "ShowTask"
    assert [op for op, _ in world.oms.tasks.bodies].count("StartTask") == 1


def test_a_task_scripted_to_fail_ends_failed_with_its_reason(world, client):
    seed(world, ["k"])
    world.oms.tasks.fail_next_task("source unreachable")
    last = follow(client, create(client))[-1]
    assert last.status == 4 and last.error_reason.error_msg == "source unreachable"
    assert world.obs.objects(DESTINATION) == {}


def test_refused_credentials_answer_400(world, client):
    world.oms.tasks.refuse_credentials = True
    with pytest.raises(ClientRequestException) as refused:
        create(client)
    assert refused.value.status_code == 400 and world.oms.tasks.tasks == {}


def test_show_of_an_unknown_task_answers_400_oms_0054_as_documented(world, client):
    with pytest.raises(ClientRequestException) as unknown:
        client.show_task(ShowTaskRequest(task_id="999"))
    assert (unknown.value.status_code, unknown.value.error_code) == (400, "OMS.0054")


@pytest.mark.parametrize("change, needle", [
    (lambda b: b.update(unknown_field=1), "unknown_field"),
    (lambda b: b["src_node"].update(bucket_name="x"), "bucket_name"),
    (lambda b: b.update(migrate_since="2000"), "migrate_since"),
    (lambda b: b.update(migrate_since=True), "migrate_since"),
    (lambda b: b["src_node"].update(object_key="a/"), "object_key"),
    (lambda b: b.update(enable_failed_object_recording="true"), "enable_failed_object_recording"),
    (lambda b: b["src_node"].update(list_file={"list_file_key": "k", "obs_bucket": "b", "extra": 1}), "extra"),
    (lambda b: b.update(consistency_check="md5"), "consistency_check"),
    (lambda b: b.pop("dst_node"), "dst_node"),
])
def test_bodies_that_do_not_fit_the_sdk_models_answer_400(world, change, needle):
    body = {"task_type": "prefix", "src_node": src(object_key=[""]).to_dict(), "dst_node": dst().to_dict()}
    body = json.loads(json.dumps(body))
    for node in ("src_node", "dst_node"):
        body[node] = {k: v for k, v in body[node].items() if v is not None}
    change(body)
    answer = signed_post(world, "/v2/proj/tasks", json.dumps(body).encode())
    assert answer.status_code == 400 and needle in answer.json()["error_msg"], answer.text
    assert world.oms.tasks.tasks == {}


def test_start_task_body_is_checked_too(world, client):
    seed(world, ["k"])
    task_id = create(client)
    follow(client, task_id)
    answer = signed_post(world, f"/v2/proj/tasks/{task_id}/start",
                         json.dumps({"src_ak": "a", "src_sk": "b", "dst_ak": "c", "dst_sk": "d",
                                     "migrate_failed_object": "yes"}).encode())
    assert answer.status_code == 400 and "migrate_failed_object" in answer.json()["error_msg"]


def test_unsigned_task_requests_get_401(world):
    answer = requests.post(world.oms.url + "/v2/proj/tasks", data=b"{}", timeout=5,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 401 and world.oms.tasks.bodies == []

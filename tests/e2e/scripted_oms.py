"""A scripted OMS on 127.0.0.1 for the migration-task commands: ShowSyncTask answers the sync task's settings,
CreateTask answers a task id, ShowTask answers the scripted states one per request (the last repeats),
StartTask answers 200. Every request is recorded with its JSON body; ``answers`` overrides a call's answer
(``{"create_task": (401, {...})}``); ``on_create(body)`` sees CreateTask's body before it is answered."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local.samples import PROJECT, TASK

TASK_ID = 4242
SYNC_TASK = {"sync_task_id": TASK, "status": "SYNCHRONIZING", "src_cloud_type": "Tencent",
             "src_region": "ap-guangzhou", "src_bucket": "photos-1253970026", "dst_region": "cn-north-4",
             "dst_bucket": "migrated-photos", "object_overwrite_mode": "CRC64_COMPARISON_OVERWRITE",
             "consistency_check": "crc64"}


def state(status, total=0, succeeded=0, failed=0, skipped=0, size=0, **extra):
    """A ShowTask answer (status: 1 waiting, 2 running, 3 stopped, 4 failed, 5 succeeded)."""
    body = {"id": TASK_ID, "status": status, "task_type": "prefix", "total_num": total, "successful_num": succeeded,
            "failed_num": failed, "skipped_num": skipped, "complete_size": size, "total_size": size}
    body.update(extra)
    return body


class ScriptedOms:
    def __init__(self, states=None, answers=None, sync_task=None, on_create=None):
        self.states = list(states or [state(5, 1, 1, size=4)])
        self.answers = dict(answers or {})
        self.sync_task = dict(SYNC_TASK, **(sync_task or {}))
        self.on_create = on_create  # called with CreateTask's body before it is answered
        self.received = []  # (call, method, path, body or None)
        self.ports = []  # the client's port of each request: one per connection
        self.lock = threading.Lock()
        self.shown = threading.Event()  # set at the first ShowTask
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = owner.answer(self.command, self.path, json.loads(raw) if raw else None)
                owner.ports.append(self.client_address[1])
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.sync_url = "%s/v2/%s/sync-tasks/%s/events" % (self.url, PROJECT, TASK)

    def answer(self, method, path, body):
        path = path.split("?")[0]
        base = "/v2/%s" % PROJECT
        if method == "GET" and path == "%s/sync-tasks/%s" % (base, TASK):
            call, default = "show_sync_task", (200, self.sync_task)
        elif method == "POST" and path == base + "/tasks":
            call, default = "create_task", (200, {"id": TASK_ID, "name": "t"})
            if self.on_create is not None and call not in self.answers:
                self.on_create(body)
        elif method == "POST" and re.fullmatch(r"%s/tasks/[^/]+/start" % base, path):
            call, default = "start_task", (200, None)
        elif method == "GET" and re.fullmatch(r"%s/tasks/[^/]+" % base, path):
            call = "show_task"
            with self.lock:
                default = (200, self.states.pop(0) if len(self.states) > 1 else self.states[0])
            self.shown.set()
        else:
            call, default = "unknown", (404, {"error_code": "OMS.0000", "error_msg": "no such API"})
        with self.lock:
            self.received.append((call, method, path, body))
        return self.answers.get(call, default)

    def calls(self):
        return [call for call, *_ in self.received]

    def bodies(self, call):
        return [body for name, _, _, body in self.received if name == call]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()

"""A kernel of a user's server, started and driven as JupyterLab does: the Jupyter Server REST API
(through the hub's proxy, with the user's token) and the kernel's websocket channels."""
import asyncio
import json
import time
import uuid

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


class RemoteKernel:
    def __init__(self, user, kernel_name: str = "python3", kernel_id: str = ""):
        """A new kernel, or the running kernel_id (a notebook session's)."""
        self.user, self.kernel_name = user, kernel_name
        self.base = f"/user/{user.name}/api/kernels"
        if not kernel_id:
            r = user.api("POST", self.base, json={"name": kernel_name})
            r.raise_for_status()
            kernel_id = r.json()["id"]
        self.id = kernel_id
        self.session = uuid.uuid4().hex

    def model(self) -> dict:
        return self.user.api("GET", f"{self.base}/{self.id}").json()

    def execute(self, code: str, timeout: float = 120) -> dict:
        """Run one cell; returns {"status", "stdout", "stderr", "ename", "evalue", "displayed"} (the
        mimetypes of what it displayed)."""
        return asyncio.run(self._execute(code, timeout))

    async def _execute(self, code: str, timeout: float) -> dict:
        url = self.user.stack.url.replace("http", "ws", 1) + f"{self.base}/{self.id}/channels?session_id={self.session}"
        request = HTTPRequest(url, headers={"Authorization": f"token {self.user.token}"})
        ws = await asyncio.wait_for(websocket_connect(request), 30)
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.user.name,
                       "session": self.session, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        result = {"status": None, "stdout": "", "stderr": "", "ename": None, "evalue": None, "displayed": []}
        idle = False
        deadline = time.monotonic() + timeout
        try:
            while not (idle and result["status"]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the cell did not finish in {timeout} s: {result}")
                raw = await asyncio.wait_for(ws.read_message(), left)
                if raw is None:
                    result["status"] = result["status"] or "disconnected"
                    break
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    result[content["name"]] += content["text"]
                elif kind == "display_data":
                    result["displayed"] += sorted(content["data"])
                elif kind == "error":
                    result.update(ename=content["ename"], evalue=content["evalue"])
                elif kind == "execute_reply":
                    result["status"] = content["status"]
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
        finally:
            ws.close()
        return result

    def shutdown(self) -> None:
        self.user.api("DELETE", f"{self.base}/{self.id}")

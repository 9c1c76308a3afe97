"""A model that misbehaves on request, one step per kind of attack on the platform."""
import os
import socket

import feather as ft

model = ft.Model("hostile", description="Tries to escape its sandbox; every attempt must fail cleanly.")


@model.step(inputs=[ft.Text("host"), ft.Number("port", integer=True)], outputs=[ft.Text("answer")])
def connect(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=3) as conn:
        conn.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        return conn.recv(200).decode(errors="replace")


@model.step(inputs=[ft.Text("path")], outputs=[ft.Text("content")])
def read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read(200).decode(errors="replace")


@model.step(inputs=[ft.Number("children", integer=True)], outputs=[ft.Text("answer")])
def fork_bomb(children: int) -> str:
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            import time
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
    return f"forked {len(pids)}"


@model.step(inputs=[ft.Number("megabytes", integer=True)], outputs=[ft.Text("answer")])
def hog_memory(megabytes: int) -> str:
    blocks = [bytearray(2**20) for _ in range(megabytes)]
    return f"held {len(blocks)} MB"


@model.step(inputs=[ft.Number("megabytes", integer=True)], outputs=[ft.Text("answer")])
def fill_tmp(megabytes: int) -> str:
    chunk = b"x" * 2**20
    with open("/tmp/filler", "wb") as handle:
        for _ in range(megabytes):
            handle.write(chunk)
    return f"wrote {megabytes} MB"


@model.step(inputs=[ft.Number("seconds")], outputs=[ft.Text("answer")])
def hang(seconds: float) -> str:
    while True:
        pass


@model.step(inputs=[ft.Text("how")], outputs=[ft.Text("answer")])
def suicide(how: str) -> str:
    os.kill(os.getpid(), 9)
    return "unreachable"

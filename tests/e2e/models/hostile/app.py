"""A model that misbehaves on request, one step per kind of attack on the platform."""
import ctypes
import glob
import json
import os
import socket
import subprocess
import threading
import uuid

import feather as ft

model = ft.Model("hostile", description="Tries to escape its sandbox; every attempt must fail cleanly.",
                 files=["weights.bin"])
STARTED_AS = uuid.uuid4().hex  # a new worker process has a new one


@model.step(inputs=[ft.Text("host"), ft.Number("port", integer=True)], outputs=[ft.Text("answer")])
def connect(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=3) as conn:
        conn.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        return conn.recv(200).decode(errors="replace")


@model.step(inputs=[ft.Text("path")], outputs=[ft.Text("content")])
def read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read(200).decode(errors="replace")


@model.step(inputs=[ft.Text("pattern")], outputs=[ft.Text("found")])
def find(pattern: str) -> str:
    """Files matching a name pattern anywhere the worker can see outside the system folders
    (say, every SQLite store)."""
    system = ("proc", "usr", "lib", "lib32", "lib64", "bin", "sbin", "dev", "sys")
    found = []
    for top in sorted(set(os.listdir("/")) - set(system)):
        found += glob.glob(f"/{top}/**/{pattern}", recursive=True)
    return json.dumps(sorted(found)[:50])


@model.step(inputs=[ft.File("doc")], outputs=[ft.Text("content")])
def read_input(doc) -> str:
    return doc.read_bytes()[:200].decode(errors="replace")


@model.step(inputs=[], outputs=[ft.Text("identity")])
def whoami() -> str:
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    return json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "worker": STARTED_AS,
                       "root": sorted(os.listdir("/")),
                       "caps": {k: int(status[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
                       "no_new_privs": status.get("NoNewPrivs", "").strip(), "seccomp": status.get("Seccomp", "").strip()})


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


@model.step(inputs=[ft.Text("folder"), ft.Number("megabytes", integer=True)], outputs=[ft.Text("answer")])
def fill(folder: str, megabytes: int) -> str:
    """Writes files of 8 MB into a folder until it has written `megabytes`."""
    chunk = b"x" * 2**20
    for i in range(0, megabytes, 8):
        with open(os.path.join(folder, f"filler-{i}"), "wb") as handle:
            for _ in range(8):
                handle.write(chunk)
    return f"wrote {megabytes} MB into {folder}"


@model.step(inputs=[ft.Number("seconds")], outputs=[ft.Text("answer")])
def hang(seconds: float) -> str:
    while True:
        pass


@model.step(inputs=[ft.Number("threads", integer=True)], outputs=[ft.Text("answer")])
def burn(threads: int) -> str:
    """Computes in a separate process, so a CPU budget must count more than this process."""
    code = "while True: pass"
    procs = [subprocess.Popen(["python3", "-c", code]) for _ in range(threads)]
    procs[0].wait()
    return "never"


@model.step(inputs=[], outputs=[ft.Text("worker")])
def spin_after() -> str:
    """Returns at once, leaving a thread that computes for ever."""
    def spin() -> None:
        while True:
            pass
    threading.Thread(target=spin, daemon=True).start()
    return STARTED_AS


@model.step(inputs=[ft.Text("how")], outputs=[ft.Text("answer")])
def suicide(how: str) -> str:
    os.kill(os.getpid(), 9)
    return "unreachable"


@model.step(inputs=[], outputs=[ft.Text("answer")])
def new_namespace() -> str:
    """Both ways a process makes a user namespace: the unshare tool, and the system call."""
    tool = subprocess.run(["unshare", "-Ur", "id"], capture_output=True, text=True)
    libc = ctypes.CDLL(None, use_errno=True)
    call = libc.unshare(0x10000000)  # CLONE_NEWUSER
    if tool.returncode == 0 or call == 0:
        return f"made a namespace: tool={tool.returncode} {tool.stdout.strip()} call={call}"
    raise PermissionError(f"unshare refused: {tool.stderr.strip()}; "
                          f"unshare(2): {os.strerror(ctypes.get_errno())}")


@model.step(inputs=[ft.Text("path")], outputs=[ft.Text("answer")])
def write(path: str) -> str:
    with open(path, "w") as handle:
        handle.write("planted")
    return f"wrote {path}"


@model.step(inputs=[], outputs=[ft.File("made", filename="made.txt")])
def make_file() -> bytes:
    return b"made inside the sandbox"


@model.step(inputs=[ft.Text("target"), ft.Text("kind")], outputs=[ft.JSON("file")])
def planted_output(target: str, kind: str) -> dict:
    """Leaves a link (or a fifo) in the output folder and names it as a produced file, hoping the
    executor reads the host file it points at."""
    path = "/feather/scratch/run/out/planted"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(target, path)
    return {"path": path, "name": "planted.txt"}


@model.step(inputs=[ft.Number("depth", integer=True), ft.Number("files", integer=True)], outputs=[ft.Text("answer")])
def litter(depth: int, files: int) -> str:
    """Leaves a very deep folder tree, or very many files, in the output folder."""
    out = "/feather/scratch/run/out"
    os.chdir(out)
    for i in range(depth):
        os.mkdir("d")
        os.chdir("d")
    os.chdir(out)
    for i in range(files):
        open(f"f{i}", "w").close()
    return f"left {depth} levels and {files} files"


@model.step(inputs=[ft.Number("copies", integer=True), ft.Number("megabytes", integer=True),
                    ft.Checkbox("distinct")], outputs=[ft.JSON("files")])
def sparse_outputs(copies: int, megabytes: int, distinct: bool) -> list:
    """Names sparse files (which take no space in the output folder) as produced files, many times."""
    values = []
    for i in range(copies):
        path = f"/feather/scratch/run/out/sparse-{i if distinct else 0}"
        if not os.path.exists(path):
            with open(path, "wb") as handle:
                handle.truncate(megabytes * 2**20)
        values.append({"path": path, "name": f"sparse-{i}.bin"})
    return values


@model.step(inputs=[ft.Number("delay")], outputs=[ft.Text("worker")])
def spin_later(delay: float) -> str:
    """Returns at once, leaving a thread that starts computing only after a while."""
    def spin() -> None:
        import time
        time.sleep(delay)
        while True:
            pass
    threading.Thread(target=spin, daemon=True).start()
    return STARTED_AS


@model.step(inputs=[ft.Number("megabytes")], outputs=[ft.Text("text")])
def huge_output(megabytes: float) -> str:
    """More output than any event may carry."""
    return "x" * int(megabytes * 2**20)


# A model's code can bypass the SDK's encoding and answer any output names it likes
import feather.runtime as _runtime  # noqa: E402

_encode = _runtime._encode_outputs


def _with_extras(step, result, output_dir):
    encoded = _encode(step, result, output_dir)
    if step.name == "undeclared":
        encoded["/home/u/"] = {"url": "data:text/plain;base64,eA==", "name": "x.bashrc"}
        encoded["not_in_the_manifest"] = "surprise"
    return encoded


_runtime._encode_outputs = _with_extras


@model.step(inputs=[], outputs=[ft.Text("declared")])
def undeclared() -> str:
    return "the only output the manifest names"


@model.step(inputs=[ft.Text("url")], outputs=[ft.JSON("file")])
def names_a_file(url: str) -> dict:
    """Names someone's stored file as its output, hoping the run then lets it be downloaded."""
    return {"url": url}

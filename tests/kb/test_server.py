"""The knowledge base on a shared Chroma server (HttpClient), a real `chroma run` on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cell2text.kb import KnowledgeBase


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path_factory.mktemp("server")), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_build_and_query_on_a_server(server, monkeypatch):
    monkeypatch.setenv("CELL2TEXT_KB_URL", server)
    kb = KnowledgeBase()
    assert kb.url == server and kb.path is None
    kb.build(progress=False)
    assert kb.query("natural killer cell", kind="cell_type", k=1)[0].curie == "CL:0000623"
    assert KnowledgeBase().is_current()  # a second client sees the same collection

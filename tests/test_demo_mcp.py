"""The MCP demo: an MCP client's whole path, every step as expected, nothing left running."""

from __future__ import annotations

import io
import re
import threading

from accesstoken._demo_mcp import run_mcp_demo


def test_every_step_behaves_and_the_servers_stop() -> None:
    threads = set(threading.enumerate())
    out = io.StringIO()
    assert run_mcp_demo(out) == 0, out.getvalue()
    text = out.getvalue()
    assert "6/6 steps behaved as expected." in text
    assert "UNEXPECTED" not in text
    challenge = re.search(r'-> 401 Bearer .*resource_metadata="([^"]+)"', text)
    assert challenge is not None
    assert challenge[1].endswith("/.well-known/oauth-protected-resource/mcp")
    assert "result ['A-1', 'A-2']" in text
    assert text.rstrip().endswith("All servers stopped.")
    # The servers' threads have ended; anyio's idle workers (DNS look-ups, sync tools) end
    # by themselves after a few seconds, as daemons.
    left = [t for t in set(threading.enumerate()) - threads if t.name != "AnyIO worker thread"]
    assert not left

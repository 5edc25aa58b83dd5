"""A function as a serverless platform runs it: the handler of docs/delivery.md, invoked, then frozen.

The handler's code is read from the document itself (the Python block of its
"Serverless functions" section), so the test proves what the page tells users to
write. Each invocation prints ``returned N`` and the process then stops itself
with ``SIGSTOP``, as a platform freezes a function between invocations: nothing
of the exporter's runs any more until the test sends ``SIGCONT`` (or kills it).

    python tests/apps/serverless.py INVOCATIONS
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "delivery.md"


def documented_handler() -> str:
    """The first Python block after the "Serverless functions" heading."""
    text = DOCUMENT.read_text(encoding="utf-8")
    section = text.split("## Serverless functions", 1)
    if len(section) != 2:
        sys.exit(f"{DOCUMENT} has no 'Serverless functions' section")
    block = re.search(r"```python\n(.*?)```", section[1], re.DOTALL)
    if block is None:
        sys.exit(f"{DOCUMENT}'s 'Serverless functions' section has no Python block")
    return block.group(1)


def main() -> None:
    namespace: dict[str, Any] = {"__name__": "function"}
    exec(compile(documented_handler(), str(DOCUMENT), "exec"), namespace)  # the page's own code
    for invocation in range(1, int(sys.argv[1]) + 1):
        namespace["handler"]({"invocation": invocation}, None)
        print(f"returned {invocation}", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)


if __name__ == "__main__":
    main()

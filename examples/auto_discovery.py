"""Entry-point auto-discovery without the command line: what ``opentelemetry-instrument`` does, in code.

``initialize()`` finds this package's distro, configurator, exporter and
instrumentor through their entry points, exactly as the command does::

    export DYNAMIQ_ACCESS_KEY=... OPENAI_API_KEY=...
    python examples/auto_discovery.py

Use it where you cannot change the command that starts your process.
"""

from opentelemetry.instrumentation.auto_instrumentation import initialize

initialize()  # before the application's imports, like sitecustomize would

import dynamiq_app  # noqa: E402 - instrumentation first

dynamiq_app.main()

"""Runs to requests: bodies, the private event loop, retries and the spool.

The data path reads top to bottom: ``bodies`` packs encoded runs under the
size cap, ``delivery`` sends each body through one shared
``httpx.AsyncClient`` on the loop of ``event_loop`` (names resolved by
``resolver``), ``answers`` says what each answer from the service means,
``retry_policy`` how long to wait before trying again, and ``spool`` keeps
what could not be delivered in time. ``stats`` and ``metrics`` count every
run that did not arrive, so no drop is silent. Nothing here knows what a
span is.
"""

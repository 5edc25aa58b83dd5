"""What the local collector and the gateway share as HTTP servers.

Both accept bodies from senders they do not control, so both need the same
bounds: ``bounded_server`` caps connections, handlers and idle time,
``request_body`` caps a body's bytes, decompressed bytes, values and nesting
before any of that work is done, and ``request_handler`` routes, frames bodies
and turns every failure into an answer the same way for both.
"""

"""
Benchmark processes: each is run as ``python -m bench.impls.<module> '<json config>'``.

A process prints ``@bench {"ready": ...}`` once its sockets are bound (servers), and
``@bench {"result": ...}`` (or ``{"error": ...}`` / ``{"skip": ...}``) when done; see
bench/_common.py.
"""

"""
The sans-IO core: values, framing, topic routing and bounded buffers.

Nothing here knows about the reactor or about sockets; it takes frames and
returns values, so it tests in microseconds. It may import only the standard
library, attrs and txzpub._errors (tests/test_layers.py enforces this).
"""

__all__ = ()

"""Code that runs *inside* the sandbox (``zygote``, ``harness``, ``protocol``, ``probe_tools``).

Only this sub-package (and ``autograder/__init__.py``) is mounted into the sandbox: nothing here
may import the rest of ``autograder`` (probes, secrets, gradebook). ``launcher`` is the exception:
it is the trusted side that starts the sandbox, and it is never mounted.
"""

"""Programs the reliability tests run as subprocesses, and the test side's runner."""

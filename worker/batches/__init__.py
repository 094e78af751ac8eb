"""Fan-out jobs: dispatch slots, submit chunks exactly once, look before resending, cancel."""

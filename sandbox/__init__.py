"""Where untrusted code runs: sandbox backends behind one interface, and the harness."""

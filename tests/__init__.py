"""Gonk's tests. A package (as is each test folder), so that pytest imports the test modules
as tests.<folder>.test_<name> from the repository root, and the shared helpers as tests.support."""

"""Pure domain code: event shapes, the state rules and the hash chain.

No Flask, no SQL, no files.
"""

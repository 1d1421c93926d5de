"""Helpers shared by the tests (fixtures are in the conftest.py files):

- http.py       Flask's test Client with an API key and JSON helpers, b64, LABEL_SCHEMA
- chain.py      recompute_chain: the event log's hash chain, checked as a client checks it
- api.py        the API suite's helpers: create schemas, objects, annotations; review; errors
- seed.py       the seed's client code and the walk through its examples in order (end to end)
- processes.py  `gonk-api` as real processes (CLI, servers), free ports, processes in /proc
- storage.py    installations of every storage kind (STORAGE_KINDS) for `gonk-api` processes
- postgres.py   PostgreSQL databases of their own for the tests
- s3.py         moto's S3 server, buckets and AWS_* variables (and their fixtures)
- wire.py       HTTP/1.1 as raw bytes on sockets: broken framing, pipelining, slow clients
- generated.py  a large request body made as it is read (memory tests)

Imported as `from tests.support.<module> import ...`; tests/conftest.py registers the package
for pytest's assert rewriting before importing it.
"""

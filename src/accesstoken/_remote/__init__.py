"""Everything that talks to a remote server, written once for threads and event loops.

- `flow.py`: a flow is a generator that yields the I/O it needs as `Call`s; `run()` and
  `run_async()` drive any flow, and are the only sync/async pair below the verifiers.
- `fetch.py`: the rules for fetching a JSON document (https or loopback, same-origin
  redirects, no compression, a size cap, one deadline) and the HTTP settings of a source.
- `policy.py`: when a cached document is fresh, stale or due again (no I/O, no clock).
- `flight.py`: one single-flight engine, keyed, for every remote answer: key sets,
  discovery documents and introspection answers.
"""

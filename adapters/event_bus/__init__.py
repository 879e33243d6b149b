"""Event bus adapters: in-process (embedded default), Redis Streams and Kafka.

Import the module of the adapter you need; each pulls in only its own client library.
"""

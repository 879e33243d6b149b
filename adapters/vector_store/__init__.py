"""Vector store adapters: numpy in memory, embedded Qdrant edge, Qdrant server, Milvus."""

"""Job queue adapters: Dramatiq over its in-process, Redis and RabbitMQ brokers."""

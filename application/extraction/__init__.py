"""Use cases: turning a message into memories."""

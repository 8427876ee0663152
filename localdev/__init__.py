"""Local tooling, not part of a deployment: the local stack (Kafka, Redis, PostgreSQL, Triton as processes on
this machine), the demo, traffic scenarios and their replay, the model set-up the demo needs, and a webhook test
receiver. The ``radar`` CLI (``services/cli``) is its only caller among the runtime packages."""

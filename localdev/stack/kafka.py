"""Apache Kafka 4.x (KRaft, one node) from its Maven Central jars, run on the machine's Java 17.

The jars are resolved by ``mvn`` from ``deploy/kafka/pom.xml`` (cached in ``~/.m2``), copied to
``var/kafka/libs``; the storage is formatted once with a fresh cluster id.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
from pathlib import Path
from string import Template

from core.errors import StackError
from localdev.stack.base import LOOPBACK, LocalService
from stream.topics import admin_client

__all__ = ["REPO_ROOT", "KafkaService", "listener_hosts"]

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
TEMPLATE = REPO_ROOT / "deploy" / "local" / "kafka-server.properties"
LOG4J = REPO_ROOT / "deploy" / "local" / "kafka-log4j2.properties"


class KafkaService(LocalService):
    name = "kafka"
    start_timeout_s = 90.0

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def _classpath(self) -> str:
        return f"{self.libs}/*"

    def install(self) -> None:
        version = self.settings.kafka_version
        stamp = f"{version} {hashlib.sha256(POM.read_bytes()).hexdigest()}"
        stamp_file = self.libs / ".resolved"
        if stamp_file.exists() and stamp_file.read_text() == stamp:
            return
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise StackError(self.name, "Kafka needs Java 17 and Maven (apt-get install openjdk-17-jre-headless maven)")
        if self.libs.exists():
            shutil.rmtree(self.libs)
        argv = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs}",
            f"-Dkafka.version={version}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(self.name, "resolving the Kafka jars with mvn failed", result.stdout[-3000:])
        stamp_file.write_text(stamp)

    def render_config(self) -> str:
        """``server.properties`` from the template; refused unless every listener binds to loopback (an empty
        host or 0.0.0.0 would expose a PLAINTEXT broker and its controller to the network)."""
        text = Template(TEMPLATE.read_text()).substitute(
            kafka_port=self.settings.kafka_port,
            controller_port=self.settings.kafka_controller_port,
            data_dir=self.data_dir,
            partitions=self.settings.topic_partitions,
        )
        hosts = listener_hosts(text)
        if not hosts or any(host != LOOPBACK for host in hosts):
            raise StackError(self.name, f"{TEMPLATE} must bind every listener to {LOOPBACK}, not {sorted(hosts)}")
        return text

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.render_config())
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = self._storage_tool("random-uuid").strip().splitlines()[-1]
        self._storage_tool("format", "--standalone", "-t", cluster_id, "-c", str(self.config_file))

    def _storage_tool(self, *args: str) -> str:
        argv = ["java", "-XX:TieredStopAtLevel=1", "-cp", self._classpath(), f"-Dlog4j2.configurationFile={LOG4J}"]
        argv.append("kafka.tools.StorageTool")
        result = subprocess.run([*argv, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(self.name, f"StorageTool {args[0]} failed", result.stdout + result.stderr)
        return result.stdout

    def argv(self) -> list[str]:
        """The broker's command line. ``TieredStopAtLevel=1`` keeps the JIT to its quick tier: a local broker
        carries a test's or a demo's few hundred events a second, and the optimising tier's compile threads were
        most of its start-up CPU (20 -> 12 CPU-seconds a start here, which the chaos and fault tests pay again)."""
        return [
            "java",
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={self.var / 'log'}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self.config_file),
        ]

    def probe(self) -> bool:
        """The broker's metadata, asked only once its port accepts: kafka-python's bootstrap retries a refused
        port with a backoff that grows to 30 s, so without the socket check a stack whose Kafka is not up yet
        spent a minute idle deciding that no external broker runs."""
        host, port = self.settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[0], self.settings.kafka_port
        with socket.create_connection((host or LOOPBACK, port), timeout=1):
            pass
        admin = admin_client(self.settings, request_timeout_ms=3000)
        try:
            return bool(admin.describe_cluster().get("brokers"))
        finally:
            admin.close()

    def detail(self) -> str:
        return f"{self.settings.kafka_bootstrap_servers} (Apache Kafka {self.settings.kafka_version}, KRaft)"


def listener_hosts(properties: str) -> set[str]:
    """The hosts of ``listeners`` and ``advertised.listeners`` in a server.properties text.

    >>> sorted(listener_hosts("listeners=PLAINTEXT://:9092,CONTROLLER://127.0.0.1:9093"))
    ['', '127.0.0.1']
    """
    hosts: set[str] = set()
    for line in properties.splitlines():
        key, _, value = line.partition("=")
        if key.strip() not in ("listeners", "advertised.listeners"):
            continue
        for listener in filter(None, (item.strip() for item in value.split(","))):
            _, _, address = listener.partition("://")
            hosts.add(address.rpartition(":")[0].strip("[]"))
    return hosts

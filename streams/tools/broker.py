"""A local single-node Kafka 4.x broker (KRaft, broker+controller in one JVM) for the demo
and the tests, run from Maven Central jars: no Docker, no Apache download site.

Layout under the home (default ~/.cache/leadscore/kafka-<version>, env LEADSCORE_KAFKA_HOME):
libs/ (the classpath, resolved once with Maven), run/ (server.properties, log4j2.properties,
server.log, kafka.out, kafka.pid) and data/ (log.dirs, kept across restarts). A second broker
(the fault tests' own, on other ports) can share another home's libs/ with `libs=`.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from streams.kafka.admin import BrokerUnavailableError, probe_broker, wait_for_broker
from streams.settings import Settings

HOME_ENV = "LEADSCORE_KAFKA_HOME"
MIN_JAVA = 17  # the Kafka 4.x broker needs Java 17
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
DEFAULT_BOOTSTRAP = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
MAIN_CLASS = "kafka.Kafka"


class LocalKafkaError(RuntimeError):
    """The local broker could not be set up, started or stopped."""


class MissingToolError(LocalKafkaError):
    """java or mvn is missing or too old (the CLI exits 2)."""


def _quiet(_message: str) -> None:
    return None


def default_pom() -> Path:
    """deploy/kafka/pom.xml of this source checkout."""
    return Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"


def kafka_version(pom: Path) -> str:
    """The Kafka version the pom pins (<kafka.version>), the one source of truth."""
    try:
        found = re.search(r"<kafka\.version>\s*([^<\s]+)\s*<", pom.read_text())
    except OSError as exc:
        raise LocalKafkaError(f"cannot read {pom}: {exc.strerror}") from exc
    if found is None:
        raise LocalKafkaError(f"{pom} does not pin <kafka.version>")
    return found.group(1)


def default_home(version: str) -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "leadscore" / f"kafka-{version}"


def new_cluster_id() -> str:
    """What `StorageTool random-uuid` prints: URL-safe base64 of a random UUID, unpadded."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka refuses ids that look like a command-line flag
            return cid


def java_major_version(version_output: str) -> int | None:
    """17 from `openjdk version "17.0.15"`, 8 from `java version "1.8.0_202"`."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def find_java() -> str:
    """The java binary ($JAVA_HOME first), checked to be Java 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    install = "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
    if java is None:
        raise MissingToolError(f"java not found: {install}")
    probe = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    major = java_major_version(probe.stderr + probe.stdout)
    if major is None or major < MIN_JAVA:
        raise MissingToolError(f"{java} is Java {major or '?'}; Kafka 4 needs 17+: {install}")
    return java


def find_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingToolError("mvn not found: install Apache Maven (e.g. apt-get install maven)")
    return mvn


def render_server_properties(data_dir: Path, host: str, port: int, controller_port: int) -> str:
    """server.properties for one combined broker+controller node (dynamic KRaft quorum)."""
    broker, controller = f"{host}:{port}", f"{host}:{controller_port}"
    listeners = f"""\
controller.quorum.bootstrap.servers={controller}
listeners=PLAINTEXT://{broker},CONTROLLER://{controller}
advertised.listeners=PLAINTEXT://{broker},CONTROLLER://{controller}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""
    return node_properties(data_dir, listeners)


def node_properties(data_dir: Path, listeners: str) -> str:
    """The properties of every local node around its listener block."""
    return f"""\
# Written by `leadscore kafka up`; rewritten on every start.
process.roles=broker,controller
node.id=1
{listeners.rstrip()}
log.dirs={data_dir}
# Faust creates its own changelog and repartition topics.
auto.create.topics.enable=true
# One node: every internal topic gets one replica (defaults of 3 break consumer groups).
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# The default 50 partitions make the first group join slow.
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# The 4.x default (3 s) delays every first rebalance, in tests too.
group.initial.rebalance.delay.ms=0
# The default 128 MB dedupe buffer is a quarter of this small heap.
log.cleaner.dedupe.buffer.size=33554432
"""


LOG4J2_PROPERTIES = """\
# Written by `leadscore kafka up`: the broker logs at INFO to server.log in the run dir.
status = warn
name = leadscore-local-kafka
# Kafka drives its own shutdown; log4j's hook would only warn when the JVM is already exiting.
shutdownHook = disable
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
"""


@dataclass(frozen=True)
class KafkaLayout:
    """Where everything of the local broker lives."""

    home: Path
    shared_libs: Path | None = None  # another home's libs/ (one jar cache, several brokers)

    @property
    def libs(self) -> Path:
        return self.shared_libs or self.home / "libs"

    @property
    def libs_marker(self) -> Path:
        return self.libs / ".complete"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def server_properties(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.run_dir / "log4j2.properties"

    @property
    def server_log(self) -> Path:
        return self.run_dir / "server.log"

    @property
    def console_log(self) -> Path:
        return self.run_dir / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    log: Path

    def describe(self) -> str:
        if self.running:
            return f"Kafka is running: pid {self.pid}, bootstrap {self.bootstrap}, log {self.log}"
        return f"Kafka is not running (bootstrap {self.bootstrap}, log {self.log})"


@dataclass(frozen=True)
class UpResult:
    """started=False: a broker was already there; pid None: one leadscore did not start."""

    started: bool
    pid: int | None
    bootstrap: str
    seconds: float
    log: Path


def tail(path: Path, lines: int = 20, *, since: int = 0) -> str:
    """The last lines of a text file written after byte `since` ('' when there are none)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(max(since if since <= size else 0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def log_excerpt(
    path: Path, *, since: int = 0, markers: tuple[str, ...] = (" ERROR ", " FATAL "), last: int = 15
) -> str:
    """The first lines with a marker (the cause, usually), then the last lines."""
    recent = tail(path, 400, since=since).splitlines()
    causes = [line for line in recent if any(m in line for m in markers)][:5]
    ending = [line for line in recent[-last:] if line not in causes]
    return "\n".join([*causes, "...", *ending] if causes and ending else causes or ending)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def process_cmdline(pid: int) -> list[str]:
    """The argv of a process ([] when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]
    except FileNotFoundError:
        return []
    except OSError:  # no /proc (macOS): ask ps
        done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True)
        return done.stdout.decode(errors="replace").split()


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _local_settings(bootstrap: str) -> Settings:
    # The local broker is plaintext whatever LEADSCORE_SECURITY_* says, so the environment
    # is not read (model_construct skips the settings sources and validation).
    return Settings.model_construct(kafka_bootstrap=bootstrap)


class LocalKafka:
    """Resolve, configure, format, start, probe and stop the local broker."""

    def __init__(
        self,
        home: Path | None = None,
        *,
        pom: Path | None = None,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        controller_port: int = DEFAULT_CONTROLLER_PORT,
        libs: Path | None = None,
        say: Callable[[str], None] = _quiet,
    ) -> None:
        self.pom = pom or default_pom()
        self.version = kafka_version(self.pom)
        # Absolute: the pid check compares the broker's argv with these paths.
        home = (home or default_home(self.version)).expanduser().resolve()
        self.layout = KafkaLayout(home, libs.expanduser().resolve() if libs else None)
        self.host, self.port, self.controller_port = host, port, controller_port
        self.say = say
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # server.log size when this object started the JVM

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    # -- status -------------------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid from the pid file if that process is alive and is our broker; a stale pid
        file is removed."""
        try:
            pid = int(self.layout.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if self._alive(pid) and self._is_our_broker(pid):
            return pid
        self.layout.pid_file.unlink(missing_ok=True)
        return None

    def status(self) -> BrokerStatus:
        pid = self.running_pid()
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.layout.server_log)

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None  # our child: poll() also reaps it
        return pid_alive(pid)

    def _is_our_broker(self, pid: int) -> bool:
        argv = process_cmdline(pid)
        return MAIN_CLASS in argv and str(self.layout.server_properties) in argv

    # -- up -----------------------------------------------------------------------------

    def up(self, *, fresh: bool = False, timeout: float = 90.0) -> UpResult:
        """Start the broker unless it already runs, and wait until it answers metadata
        requests. `fresh` stops it if needed and wipes the data dir first."""
        java = find_java()
        begin = time.monotonic()
        with self._lock():
            pid = self.running_pid()
            if pid is not None and fresh:
                self._stop(pid, timeout=30.0)
            elif pid is not None:
                self._wait_ready(pid, timeout)  # an earlier `up` may still be booting
                return self._result(False, pid, begin)
            if self._foreign_broker_answers():
                return self._result(False, None, begin)
            pid = self._start(java, fresh, timeout)
        return self._result(True, pid, begin)

    def _result(self, started: bool, pid: int | None, begin: float) -> UpResult:
        seconds = time.monotonic() - begin
        return UpResult(started, pid, self.bootstrap, seconds, self.layout.server_log)

    def _start(self, java: str, fresh: bool, timeout: float) -> int:
        self.resolve_jars()
        self.write_configs()
        if fresh and self.layout.data_dir.exists():
            self.say(f"wiping {self.layout.data_dir} (--fresh)")
            shutil.rmtree(self.layout.data_dir)
        self.format_storage(java)
        pid = self._spawn(java)
        self.say(f"started Kafka {self.version} as pid {pid}; log: {self.layout.server_log}")
        self._wait_ready(pid, timeout)
        self.on_ready()
        return pid

    def ports(self) -> tuple[int, ...]:
        """Every port the node listens on."""
        return (self.port, self.controller_port)

    def on_ready(self) -> None:
        """Called once a broker this object started answers (a secured one grants ACLs)."""

    def _foreign_broker_answers(self) -> bool:
        """A broker on our port that we did not start: fine if it speaks Kafka, an error if the
        port is taken by something else."""
        cluster = asyncio.run(probe_broker(self.client_settings()))
        if cluster is not None:
            self.say(f"a Kafka broker not started by leadscore already answers at {self.bootstrap}")
            return True
        taken = [port for port in self.ports() if _port_taken(self.host, port)]
        if taken:
            raise LocalKafkaError(
                f"port {taken[0]} on {self.host} is in use by a program that is not a Kafka "
                "broker; stop it first"
            )
        return False

    def resolve_jars(self) -> Path:
        """libs/ with the broker's classpath, resolved with Maven only when missing."""
        digest = hashlib.sha256(self.pom.read_bytes()).hexdigest()
        marker = self.layout.libs_marker
        if marker.is_file() and marker.read_text().strip() == digest:
            return self.layout.libs
        partial = self.layout.libs.with_name("libs.partial")  # same filesystem as libs/
        shutil.rmtree(partial, ignore_errors=True)
        mvn = find_maven()
        self.say(f"resolving Kafka {self.version} jars with Maven into {self.layout.libs}")
        self._copy_dependencies(mvn, partial)
        shutil.rmtree(self.layout.libs, ignore_errors=True)
        partial.rename(self.layout.libs)
        # Written last: a crash mid-copy leaves no marker, so the next `up` resolves again.
        marker.write_text(digest + "\n")
        return self.layout.libs

    def _copy_dependencies(self, mvn: str, target: Path) -> None:
        command = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(self.pom)]
        command += [DEPENDENCY_PLUGIN, "-DincludeScope=runtime", f"-DoutputDirectory={target}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise LocalKafkaError(f"mvn could not resolve the Kafka jars:\n{output}")

    def write_configs(self) -> None:
        self.layout.run_dir.mkdir(parents=True, exist_ok=True)
        self.layout.server_properties.write_text(self.server_properties())
        self.layout.log4j_config.write_text(LOG4J2_PROPERTIES)

    def server_properties(self) -> str:
        return render_server_properties(
            self.layout.data_dir, self.host, self.port, self.controller_port
        )

    def client_settings(self) -> Settings:
        """What this process's own probes connect with (the local broker is plaintext
        whatever LEADSCORE_SECURITY_* says; a secured one overrides this)."""
        return _local_settings(self.bootstrap)

    def format_storage(self, java: str) -> None:
        """Format the data dir once; a formatted one (meta.properties) is kept as it is."""
        if (self.layout.data_dir / "meta.properties").is_file():
            return
        self.say(f"formatting {self.layout.data_dir}")
        command = [*self._java_command(java), "kafka.tools.StorageTool", "format", "--standalone"]
        command += ["--ignore-formatted", "-t", new_cluster_id()]
        command += ["-c", str(self.layout.server_properties), *self.format_options()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise LocalKafkaError(f"formatting the storage failed:\n{done.stdout}{done.stderr}")

    def format_options(self) -> list[str]:
        """More StorageTool options (a secured broker's SCRAM users)."""
        return []

    def _java_command(self, java: str, *jvm_options: str) -> list[str]:
        return [
            java,
            *jvm_options,
            f"-Dlog4j2.configurationFile={self.layout.log4j_config}",
            f"-Dkafka.logs.dir={self.layout.run_dir}",
            "-cp",
            str(self.layout.libs / "*"),
        ]

    def _spawn(self, java: str) -> int:
        command = [*self._java_command(java, *JVM_OPTIONS), MAIN_CLASS]
        command.append(str(self.layout.server_properties))
        self._log_start = _size(self.layout.server_log)
        with self.layout.console_log.open("wb") as console:
            # A new session: Ctrl-C in the terminal (or pytest) that ran `up` leaves it alone.
            self._proc = subprocess.Popen(
                command,
                cwd=self.layout.run_dir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.layout.pid_file.write_text(f"{self._proc.pid}\n")
        return self._proc.pid

    def _wait_ready(self, pid: int, timeout: float) -> None:
        settings = self.client_settings()
        alive = partial(self._alive, pid)
        try:
            asyncio.run(wait_for_broker(self.bootstrap, timeout, settings=settings, alive=alive))
        except BrokerUnavailableError as exc:
            if self._alive(pid):
                self._stop(pid, timeout=30.0)  # leave no half-started broker behind
                exc = BrokerUnavailableError(f"{exc}; stopped pid {pid}")
            raise LocalKafkaError(self._failure(str(exc))) from None

    def _failure(self, message: str) -> str:
        log, console = self.layout.server_log, self.layout.console_log
        parts = [f"{message}.", f"Log: {log}", log_excerpt(log, since=self._log_start)]
        if _size(console):
            excerpt = log_excerpt(console, markers=("Error", "Exception"), last=5)
            parts += [f"JVM output: {console}", excerpt]
        return "\n".join(part for part in parts if part)

    # -- down ---------------------------------------------------------------------------

    def down(self, *, timeout: float = 30.0) -> bool:
        """Stop the broker this layout started (SIGTERM, SIGKILL after `timeout`). False when
        none was running."""
        with self._lock():
            pid = self.running_pid()
            if pid is None:
                return False
            self._stop(pid, timeout)
            return True

    def _stop(self, pid: int, timeout: float) -> None:
        self.say(f"stopping Kafka (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            self.say(f"pid {pid} ignored SIGTERM for {timeout:g} s; sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
            if not self._wait_exit(pid, 10.0):
                raise LocalKafkaError(f"pid {pid} survived SIGKILL")
        self.layout.pid_file.unlink(missing_ok=True)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One `up`/`down` at a time per home (parallel test sessions, two terminals)."""
        self.layout.home.mkdir(parents=True, exist_ok=True)
        with (self.layout.home / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0

"""The managed local PostGIS: a private PostgreSQL cluster under var/ for the default run.

It uses the system's PostgreSQL binaries (Debian keeps initdb and pg_ctl in
/usr/lib/postgresql/NN/bin, off PATH), listens on 127.0.0.1 on a free port that
is never the standard one, and keeps its socket in var/. As root the server runs as
the `postgres` user. The superuser connects over the socket only; the application
connects over loopback as a non-superuser role with a generated password.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from backend.errors import NotConfigured

APP_ROLE = "cityops_app"
SUPERUSER = "postgres"
PORT_RANGE = range(55432, 55532)
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "200",
    "jit": "off",  # JIT compilation costs more than it saves on short tile queries
}


def find_bin_dir() -> Path:
    """The newest PostgreSQL bin folder that has initdb and whose PostGIS is installed."""
    candidates: list[tuple[int, Path]] = []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for d in root.iterdir():
            if d.name.isdigit() and (d / "bin" / "initdb").exists():
                candidates.append((int(d.name), d / "bin"))
    if not candidates and shutil.which("initdb"):
        candidates.append((0, Path(shutil.which("initdb")).parent))  # type: ignore[arg-type]
    if not candidates:
        raise NotConfigured(
            "PostgreSQL is not installed. On Debian/Ubuntu: apt-get install postgresql "
            "postgresql-NN-postgis-3 (NN = the PostgreSQL major version), or set DATABASE_URL."
        )
    major, bin_dir = max(candidates)
    if major and not Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
        raise NotConfigured(
            f"PostGIS is not installed for PostgreSQL {major}. "
            f"On Debian/Ubuntu: apt-get install postgresql-{major}-postgis-3"
        )
    return bin_dir


@dataclass
class LocalCluster:
    """A PostgreSQL cluster living in `root` (normally var/pg)."""

    root: Path

    @property
    def home(self) -> Path:
        """Where the cluster really lives: `root`, or the folder `root` links to (see _place)."""
        return self.root.resolve()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def port_file(self) -> Path:
        return self.home / "port"

    @property
    def password_file(self) -> Path:
        return self.home / "app_password"

    # --- who runs the server -------------------------------------------------------
    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if self._as_root():
            args = ["runuser", "-u", SUPERUSER, "--", *args]
        return subprocess.run(args, check=check, capture_output=True, text=True)

    def _place(self) -> None:
        """Relocate the cluster when it cannot live in `root`: as root the server runs as
        `postgres`, which must enter every parent of the data folder (a checkout under /root
        cannot offer that), and a Unix socket path may not exceed ~107 bytes. Then the
        cluster lives in /var/lib/cityops/<hash> (or a private /tmp folder when not root)
        and `root` becomes a link to it."""
        self.root.parent.mkdir(parents=True, exist_ok=True)
        if self.root.is_symlink():
            return
        socket_ok = len(str(self.root.absolute() / "run" / ".s.PGSQL.00000")) <= 100
        if self._as_root():
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError as exc:
                raise NotConfigured(
                    "Running as root needs the 'postgres' system user (installed with PostgreSQL)."
                ) from exc
            if socket_ok and self._reachable(self.root.parent):
                return
        elif socket_ok:
            return
        if self.root.exists():
            if (self.root / "data" / "PG_VERSION").exists():
                raise NotConfigured(
                    f"The managed database cannot stay in {self.root} (the postgres user cannot "
                    "enter it, or the path is too long for its socket); move the project or set "
                    "DATABASE_URL."
                )
            shutil.rmtree(self.root)
        digest = hashlib.sha1(str(self.root.absolute()).encode()).hexdigest()[:12]
        base = Path("/var/lib/cityops") if self._as_root() else Path(f"/tmp/cityops-{os.getuid()}")
        home = base / digest
        home.mkdir(parents=True, exist_ok=True, mode=0o700 if not self._as_root() else 0o755)
        self.root.symlink_to(home, target_is_directory=True)

    def _reachable(self, folder: Path) -> bool:
        return self._run(["test", "-x", str(folder)], check=False).returncode == 0

    # --- state -----------------------------------------------------------------------
    @property
    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        res = self._run([str(find_bin_dir() / "pg_ctl"), "status", "-D", str(self.data_dir)],
                        check=False)
        return res.returncode == 0

    def status(self) -> dict[str, object]:
        return {
            "data_dir": str(self.data_dir),
            "initialised": self.is_initialised(),
            "running": self.is_running(),
            "port": self.port,
            "socket_dir": str(self.socket_dir),
        }

    # --- lifecycle ------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with open(self.root.parent / ".pg.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def ensure_running(self) -> None:
        """Create the cluster on first use and start it when it is not running. Idempotent."""
        bin_dir = find_bin_dir()
        with self._lock():
            self._place()
            if not self.is_initialised():
                self._init(bin_dir)
            if not self.is_running():
                self._start(bin_dir)

    def _init(self, bin_dir: Path) -> None:
        for d in (self.home, self.data_dir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        if self._as_root():
            shutil.chown(self.home, SUPERUSER, SUPERUSER)
            for d in (self.data_dir, self.socket_dir):
                shutil.chown(d, SUPERUSER, SUPERUSER)
        self.data_dir.chmod(0o700)
        self.socket_dir.chmod(0o700)
        res = self._run(
            [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
             "--encoding=UTF8", "--locale=C.UTF-8",
             "--auth-local=trust", "--auth-host=scram-sha-256"],
            check=False,
        )
        if res.returncode != 0:
            raise NotConfigured(f"initdb failed: {res.stderr.strip()[-500:]}")

    def _pick_port(self) -> int:
        saved = self.port
        ordered = ([saved] if saved else []) + [p for p in PORT_RANGE if p != saved]
        for port in ordered:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise NotConfigured(f"No free loopback port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")

    def _start(self, bin_dir: Path) -> None:
        port = self._pick_port()
        self.port_file.write_text(str(port))
        opts = {**SERVER_OPTIONS, "port": str(port),
                "unix_socket_directories": str(self.socket_dir)}
        opt_str = " ".join(f"-c {k}={v}" for k, v in opts.items())
        if self._as_root() and not self.log_file.exists():
            self.log_file.touch()
            shutil.chown(self.log_file, SUPERUSER, SUPERUSER)
        res = self._run(
            [str(bin_dir / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_file),
             "-w", "-t", "60", "-o", opt_str],
            check=False,
        )
        if res.returncode != 0:
            tail = self.log_file.read_text()[-800:] if self.log_file.exists() else res.stderr
            raise NotConfigured(f"The managed PostgreSQL did not start: {tail.strip()}")

    def stop(self) -> bool:
        if not self.is_running():
            return False
        self._run([str(find_bin_dir() / "pg_ctl"), "stop", "-D", str(self.data_dir),
                   "-m", "fast", "-w"])
        return True

    # --- URLs -----------------------------------------------------------------------
    def admin_url(self, database: str) -> str:
        """Superuser over the private socket: for creating databases and running migrations."""
        return (f"postgresql+psycopg2://{SUPERUSER}@/{database}"
                f"?host={self.socket_dir}&port={self.port}")

    def app_url(self, database: str) -> str:
        """The application's non-superuser role over loopback."""
        password = self.password_file.read_text().strip()
        return f"postgresql+psycopg2://{APP_ROLE}:{password}@127.0.0.1:{self.port}/{database}"

    def app_password(self) -> str:
        return self.password_file.read_text().strip()

"""Run a command with its standard error on a pseudo-terminal, as a person at a terminal would."""

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time


def run_on_terminal(command, cwd, env, timeout=120):
    """``command`` with stderr on a 24x100 pseudo-terminal and stdout on a pipe: (exit status, stdout bytes,
    what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws nothing in 0 columns
    shown = b""
    try:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        stdout, _ = process.communicate(timeout=30)
    finally:
        os.close(master)
    return process.returncode, stdout, shown

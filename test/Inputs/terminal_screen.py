"""Runs a command with stdout and stderr on one pseudo-terminal, as a user
at a terminal would, and prints the screen it leaves: carriage returns,
erase-to-end-of-line and newlines applied as a terminal applies them.

    python3 terminal_screen.py COMMAND [ARGS...]
"""
import os
import pty
import subprocess
import sys


def screen(data: str) -> list:
    lines, col = [""], 0
    i = 0
    while i < len(data):
        if data.startswith("\x1b[K", i):
            lines[-1] = lines[-1][:col]
            i += 3
            continue
        c = data[i]
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("")
            col = 0
        else:
            line = lines[-1]
            lines[-1] = line[:col] + c + line[col + 1:]
            col += 1
        i += 1
    return lines


def main() -> int:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    status = proc.wait()
    # The terminal's own newline translation gives "\r\n"; a terminal shows
    # it as a newline.
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    for line in screen(text):
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())

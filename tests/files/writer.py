"""An application writing numbered log lines the way logback does: one open file, a flush per
line, the file renamed away (app.log.1, app.log.2, ...) every ROTATE lines and a new one opened.
Each line is "<n> <unix nanoseconds>". Runs until COUNT lines (or forever with -1), or a kill."""
import os
import sys
import time

directory, start, count, rotate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0002
path = os.path.join(directory, "app.log")
rotation = max([int(n.rsplit(".", 1)[1]) for n in os.listdir(directory) if n.startswith("app.log.")] + [0])
out = open(path, "a")
n = start
written = 0
while count < 0 or n < start + count:
    out.write(f"{n} {time.time_ns()}\n")
    out.flush()
    n += 1
    written += 1
    if written % rotate == 0:
        out.close()
        rotation += 1
        os.rename(path, f"{path}.{rotation}")
        out = open(path, "a")
    if pause:
        time.sleep(pause)
out.close()

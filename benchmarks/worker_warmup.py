"""What a worker's pool process spends before its first task can categorize, cold and warm.

A prefork worker's main process imports the tasks (scikit-learn with them) and forks its pool.
Each pool process's first task then builds the worker context (job store, registry), reads the
champion alias and loads the model. Cold, it also imports MLflow, skops, Alembic and the
database driver on the way; warm, the main process imported them at `worker_init`
(worker/warmup.py) and the fork shares them. This forks pool-like processes from a main
process set up both ways and measures each one's CPU time (user + system) for that first set-up,
on a scratch stack whose champion is trained from the real catalog.

    python benchmarks/worker_warmup.py [CATALOG] [--forks 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from _stack import catalog_path, log, machine, scratch_stack, wait_for_quiet

BIN = os.path.dirname(sys.executable)

# Run in a fresh interpreter with the stack's environment: the main process, then its forks.
MAIN = """
import json, os, resource, sys
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
import worker.tasks  # what `celery -A worker worker` imports before it forks
from worker.context import get_context
if sys.argv[1] == "warm":
    from worker.warmup import import_before_fork
    import_before_fork()
seconds = []
for _ in range(int(sys.argv[2])):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a pool process: its first task's set-up
        started = cpu()
        context = get_context()
        context.models.get(context.registry.champion_version())
        os.write(write, f"{cpu() - started:.3f}".encode())
        os._exit(0)
    os.close(write)
    seconds.append(float(os.read(read, 64)))
    os.waitpid(pid, 0)
print(json.dumps(seconds))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("catalog", nargs="?")
    parser.add_argument("--forks", type=int, default=5)
    args = parser.parse_args()
    catalog = catalog_path(args.catalog)
    with scratch_stack() as stack:
        log(f"training a champion from {catalog}")
        subprocess.run([os.path.join(BIN, "categorizer"), "train", "--data", str(catalog)],
                       env=stack.env, check=True, capture_output=True)
        results = {"machine": machine()}
        for mode in ("cold", "warm", "cold", "warm"):  # alternated: drift hits both alike
            quiet = wait_for_quiet()
            out = subprocess.run([sys.executable, "-c", MAIN, mode, str(args.forks)],
                                 env=stack.env, check=True, capture_output=True, text=True)
            seconds = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(mode, []).extend(seconds)
            log(f"{mode}: {seconds} (load {quiet['load1_before']})")
    for mode in ("cold", "warm"):
        values = results[mode]
        print(f"| {mode} | {len(values)} | {statistics.median(values):.2f} | "
              f"{min(values):.2f} - {max(values):.2f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

"""Runs a command once and prints JSON: wall milliseconds, exit code, peak RSS (KiB) of the child.

Usage: measure.py JSON-argv [JSON-env]
"""
import json, os, resource, subprocess, sys, time

argv = json.loads(sys.argv[1])
env = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
t0 = time.perf_counter()
proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
ms = (time.perf_counter() - t0) * 1000
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"ms": ms, "code": proc.returncode, "maxRssKiB": rss, "stdout": proc.stdout.decode("utf-8", "replace")[-4000:]}))

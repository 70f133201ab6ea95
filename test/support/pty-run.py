"""Runs a command in a real pseudo-terminal and answers its prompts.

Usage: pty-run.py JSON where JSON is {"argv": [...], "answers": [...], "prompt": "regex", "timeout": seconds}.
Prints {"code": exit code, "output": everything the terminal showed} as JSON.
"""
import json, os, pty, re, select, signal, sys, time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(spec["argv"][0], spec["argv"])


def stop(signum, _frame):
    # The child has a session of its own: take it down with us.
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGHUP, stop)

answers = list(spec.get("answers", []))
prompt = re.compile(spec.get("prompt", r"secret[^\n]*: "))
deadline = time.time() + spec.get("timeout", 30)
output = b""
seen_prompts = 0
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if fd in r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        text = output.decode("utf-8", "replace")
        prompts = len(prompt.findall(text))
        while prompts > seen_prompts and answers:
            os.write(fd, (answers.pop(0) + "\r").encode())
            seen_prompts += 1
        seen_prompts = max(seen_prompts, prompts)
done, status = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": output.decode("utf-8", "replace")}))

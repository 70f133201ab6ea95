"""Runs a command in a real pseudo-terminal and answers its prompts.

Usage: pty-run.py JSON where JSON is {"argv": [...], "answers": [...], "prompt": "regex", "timeout": seconds}.
Each answer is typed at the next prompt: a string is typed followed by Enter (CR); {"keys": [chunk, ...]}
sends raw bytes, each chunk a separate write (so a UTF-8 sequence can be split across reads), written with
Python escapes ("\\x1b[D" is the left arrow, "\\x7f" Backspace, "\\x03" Ctrl-C, "\\r" Enter); nothing is
added to them.
Under a C locale, run it with PYTHONCOERCECLOCALE=0: Python otherwise sets LC_CTYPE=C.UTF-8 for the
program too (PEP 538).
Prints {"code": exit code, "output": everything the terminal showed} as JSON.
"""
import codecs, json, os, pty, re, select, signal, sys, time

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
            answer = answers.pop(0)
            if isinstance(answer, str):
                os.write(fd, (answer + "\r").encode())
            else:
                for i, chunk in enumerate(answer["keys"]):
                    if i > 0:
                        time.sleep(0.15)  # a separate read for the program
                    os.write(fd, codecs.escape_decode(chunk.encode("utf-8"))[0])
            seen_prompts += 1
        seen_prompts = max(seen_prompts, prompts)
done, status = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": output.decode("utf-8", "replace")}))

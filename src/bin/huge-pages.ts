/**
 * scrypt's 128 MiB on transparent huge pages, in the single executable on
 * Linux. OpenSSL takes scrypt's memory from malloc, and the kernel backs it
 * 4 KiB at a time: 32,768 page faults, and then a TLB miss on nearly every
 * one of scrypt's random reads. On 2 MiB pages the same scrypt takes less
 * than half the time (see README, "Transparent huge pages"). Most
 * distributions leave transparent huge pages to the program that asks
 * (`madvise` in /sys/kernel/mm/transparent_hugepage/enabled), and glibc
 * asks for its malloc only when told by the `glibc.malloc.hugetlb=1`
 * tunable, which it reads from the environment at process start. So the
 * main script, before anything else, re-executes the very same process
 * (execve: the same pid, the same standard streams, nothing left behind)
 * with that tunable added, when the run is a registration that will most
 * likely derive a key. It costs one more start of the runtime. A failed
 * execve would end the process (Node aborts then), so every known reason
 * for one rules the re-execution out beforehand (execveSafe).
 *
 * The first process passes the time it started on, so that the timings
 * count both starts (`reexecMs`). CLIENT_BOOTSTRAP_HUGE_PAGES=0 turns this
 * off; a GLIBC_TUNABLES that says anything about glibc.malloc.hugetlb is
 * left as it is.
 */
import { accessSync, constants, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { REEXEC_MARK } from '../agent/timings.ts';

/** The variable that carries the first process's start (performance.timeOrigin) across execve. */
export const EXEC_ORIGIN_ENV = 'CLIENT_BOOTSTRAP_EXEC_ORIGIN';
const TUNABLE = 'glibc.malloc.hugetlb';
const THP_MODE = '/sys/kernel/mm/transparent_hugepage/enabled';

type Execve = (file: string, args: string[], env: Record<string, string | undefined>) => never;

/** The kernel's transparent huge page mode: always, madvise or never; undefined when unknown. */
function thpMode(): string | undefined {
  try {
    return /\[(\w+)\]/.exec(readFileSync(THP_MODE, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** The kernel's name for each architecture Node runs on here. */
const KERNEL_ARCH: Partial<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64' };

/**
 * Whether execve of this executable can be trusted to succeed, which
 * matters because process.execve aborts the process when it fails: the
 * kernel runs this process itself (not qemu-user, which cannot execve a
 * foreign binary: /proc/sys/kernel/arch is the host's), the file is still
 * there and executable, no seccomp filter, and no AppArmor or SELinux
 * confinement (a profile may not allow a process to execute itself).
 */
function execveSafe(): boolean {
  try {
    if (readFileSync('/proc/sys/kernel/arch', 'utf8').trim() !== KERNEL_ARCH[process.arch])
      return false;
    accessSync(process.execPath, constants.X_OK);
    if (readlinkSync('/proc/self/exe').endsWith(' (deleted)')) return false;
    if (!/^Seccomp:\s+0$/m.test(readFileSync('/proc/self/status', 'utf8'))) return false;
  } catch {
    return false;
  }
  let label: string;
  try {
    label = readFileSync('/proc/self/attr/current', 'utf8').replace(/\0/g, '').trim();
  } catch {
    return true; // no security module that labels processes
  }
  return label === '' || label === 'unconfined' || /^[^:]*:[^:]*:unconfined_t:/.test(label);
}

/** Whether glibc knows the hugetlb tunable (2.35 and later); false on musl or any doubt. */
function glibcHasHugetlb(): boolean {
  if (!process.report) return false;
  // The network part is a third of the report's time, and nothing here needs it.
  (process.report as { excludeNetwork?: boolean }).excludeNetwork = true;
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  const header = report?.header;
  const m = /^(\d+)\.(\d+)/.exec(header?.glibcVersionRuntime ?? '');
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 2 || (major === 2 && minor >= 35);
}

/**
 * In a re-executed process: marks where the first process started
 * (REEXEC_MARK) and takes the variable out of the environment, so that no
 * child inherits it. Anything but a plausible time is ignored. Returns
 * whether this process is a re-executed one.
 */
export function noteReexec(env: NodeJS.ProcessEnv): boolean {
  const given = env[EXEC_ORIGIN_ENV];
  if (given === undefined) return false;
  delete env[EXEC_ORIGIN_ENV];
  const originMs = Number(given);
  const before = performance.timeOrigin - originMs;
  // A start within the last minute, not in the future: what the first process wrote.
  if (Number.isFinite(before) && before >= 0 && before < 60_000)
    performance.mark(REEXEC_MARK, { detail: { originMs } });
  return true;
}

/**
 * Re-executes this process with glibc.malloc.hugetlb=1 when that helps:
 * Linux, the kernel in `madvise` mode, glibc 2.35 or later, a run that
 * `mayDerive` says will derive, and nobody having said otherwise. Returns
 * when it does not (or execve fails: the run goes on as it is).
 */
export function reexecForHugePages(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  mayDerive: (argv: readonly string[], env: NodeJS.ProcessEnv) => boolean,
): void {
  const execve = (process as { execve?: Execve }).execve;
  if (process.platform !== 'linux' || typeof execve !== 'function') return;
  if (env.CLIENT_BOOTSTRAP_HUGE_PAGES === '0') return;
  if ((env.GLIBC_TUNABLES ?? '').includes(TUNABLE)) return;
  if (thpMode() !== 'madvise') return;
  if (!mayDerive(argv, env)) return;
  if (!execveSafe() || !glibcHasHugetlb()) return;
  const tunables = [env.GLIBC_TUNABLES, `${TUNABLE}=1`].filter(Boolean).join(':');
  // Returns only if it throws before execve (a bad argument): the run goes on as it is.
  try {
    execve.call(process, process.execPath, [process.argv0, ...argv], {
      ...env,
      GLIBC_TUNABLES: tunables,
      [EXEC_ORIGIN_ENV]: String(performance.timeOrigin),
    });
  } catch {
    // as it is
  }
}

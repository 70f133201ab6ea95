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
 * likely derive a key. It costs one more start of the runtime.
 *
 * Node ends the process (SIGABRT) when execve fails, so every known reason
 * for a failure rules the re-execution out beforehand (reexecBlocker).
 *
 * The first process passes when it started (on the monotonic clock) so
 * that the timings count both starts (`reexecMs`). CLIENT_BOOTSTRAP_HUGE_PAGES=0
 * turns this off; a GLIBC_TUNABLES that says anything about
 * glibc.malloc.hugetlb is left as it is.
 */
import { accessSync, constants, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { REEXEC_MARK } from '../agent/timings.ts';
import { hasSensitiveArgs } from './process-title.ts';

/** The variable that carries the first process's start across execve (monotonic, ns). */
export const EXEC_ORIGIN_ENV = 'CLIENT_BOOTSTRAP_EXEC_ORIGIN';
const TUNABLE = 'glibc.malloc.hugetlb';
/** The glibc tunable a re-execution adds to GLIBC_TUNABLES. */
export const OUR_TUNABLE = `${TUNABLE}=1`;
const THP_MODE = '/sys/kernel/mm/transparent_hugepage/enabled';
/** The kernel's name for each architecture Node runs on here. */
const KERNEL_ARCH: Partial<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64' };
/** Auxiliary vector entries: the interpreter's base (0 when ld.so was run as the program), secure mode. */
const AT_BASE = 7n;
const AT_SECURE = 23n;

type Execve = (file: string, args: string[], env: Record<string, string | undefined>) => never;

/** This process's start on the monotonic clock, in ns (performance.now() counts from it). */
function originNs(): bigint {
  return process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6));
}

/** The kernel's transparent huge page mode: always, madvise or never; undefined when unknown. */
export function thpMode(): string | undefined {
  try {
    return /\[(\w+)\]/.exec(readFileSync(THP_MODE, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** The auxiliary vector the kernel gave this process. */
function auxv(): Map<bigint, bigint> {
  const raw = readFileSync('/proc/self/auxv');
  const entries = new Map<bigint, bigint>();
  for (let i = 0; i + 16 <= raw.length; i += 16)
    entries.set(raw.readBigUInt64LE(i), raw.readBigUInt64LE(i + 8));
  return entries;
}

/**
 * Why execve of this executable might fail, or undefined when nothing
 * known stands in its way: the kernel must run this process itself (not
 * qemu-user, which cannot execve a foreign binary: /proc/sys/kernel/arch is
 * the host's), as the program (not through ld.so, whose re-execution would
 * take our arguments as its own), not in secure mode (glibc would drop the
 * tunable, and each new image would try again), the file must still be
 * there and executable, with no seccomp filter and no AppArmor or SELinux
 * confinement (a profile may not allow a process to execute itself).
 */
function execveBlocker(): string | undefined {
  try {
    if (readFileSync('/proc/sys/kernel/arch', 'utf8').trim() !== KERNEL_ARCH[process.arch])
      return 'not run by the kernel itself';
    const aux = auxv();
    if (!aux.get(AT_BASE)) return 'started through the dynamic loader';
    if (aux.get(AT_SECURE)) return 'secure mode';
    accessSync(process.execPath, constants.X_OK);
    if (readlinkSync('/proc/self/exe').endsWith(' (deleted)')) return 'executable gone';
    if (!/^Seccomp:\s+0$/m.test(readFileSync('/proc/self/status', 'utf8'))) return 'seccomp';
  } catch {
    return 'cannot tell';
  }
  let label: string;
  try {
    label = readFileSync('/proc/self/attr/current', 'utf8').replace(/\0/g, '').trim();
  } catch {
    return undefined; // no security module that labels processes
  }
  return label === '' || label === 'unconfined' || /^[^:]*:[^:]*:unconfined_t:/.test(label)
    ? undefined
    : 'confined';
}

/** Whether glibc knows the hugetlb tunable (2.35 and later); false on musl or any doubt. */
function glibcHasHugetlb(): boolean {
  const report = process.report as
    (NodeJS.ProcessReport & { excludeNetwork?: boolean; excludeEnv?: boolean }) | undefined;
  if (!report) return false;
  const saved = [report.excludeNetwork, report.excludeEnv] as const;
  // Neither the network (a third of the report's time) nor the environment (a secret may be there).
  report.excludeNetwork = true;
  report.excludeEnv = true;
  try {
    const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    const m = /^(\d+)\.(\d+)/.exec(header?.glibcVersionRuntime ?? '');
    if (!m) return false;
    const [major, minor] = [Number(m[1]), Number(m[2])];
    return major > 2 || (major === 2 && minor >= 35);
  } finally {
    [report.excludeNetwork, report.excludeEnv] = saved;
  }
}

/**
 * In a re-executed process: marks how long before this process the first
 * one started (REEXEC_MARK), and puts the environment back as it was given
 * (no child inherits the variable or the tunable). Returns whether this
 * process is a re-executed one: then it must not re-execute again.
 */
export function noteReexec(env: NodeJS.ProcessEnv): boolean {
  const given = env[EXEC_ORIGIN_ENV];
  if (given === undefined) return false;
  delete env[EXEC_ORIGIN_ENV];
  const tunables = env.GLIBC_TUNABLES ?? '';
  const genuine = tunables === OUR_TUNABLE || tunables.endsWith(`:${OUR_TUNABLE}`);
  if (tunables === OUR_TUNABLE) delete env.GLIBC_TUNABLES;
  else if (genuine) env.GLIBC_TUNABLES = tunables.slice(0, -OUR_TUNABLE.length - 1);
  let beforeMs = NaN;
  try {
    beforeMs = Number(originNs() - BigInt(given)) / 1e6;
  } catch {
    // not a number: no figure
  }
  // What the first process wrote: a start within the last minute, not in the future.
  if (genuine && beforeMs >= 0 && beforeMs < 60_000)
    performance.mark(REEXEC_MARK, { detail: { beforeMs } });
  return true;
}

/**
 * Why this run does not re-execute itself on huge pages, or undefined when
 * it should: Linux, nobody having said otherwise, no secret on the command
 * line (the new image would show it again until it hides it), the kernel
 * in `madvise` mode, a run that `mayDerive` says will derive, execve known
 * to succeed, and glibc 2.35 or later.
 */
export function reexecBlocker(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  mayDerive: (argv: readonly string[], env: NodeJS.ProcessEnv) => boolean,
): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (env.CLIENT_BOOTSTRAP_HUGE_PAGES === '0') return 'turned off';
  if ((env.GLIBC_TUNABLES ?? '').includes(TUNABLE)) return 'tunable given';
  if (hasSensitiveArgs(argv)) return 'secret on the command line';
  const mode = thpMode();
  if (mode !== 'madvise') return `huge pages ${mode ?? 'unknown'}`;
  if (!mayDerive(argv, env)) return 'derives nothing';
  const blocked = execveBlocker();
  if (blocked) return blocked;
  if (!glibcHasHugetlb()) return 'glibc before 2.35';
  return undefined;
}

/** Re-executes this process with glibc.malloc.hugetlb=1 unless reexecBlocker says why not. */
export function reexecForHugePages(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  mayDerive: (argv: readonly string[], env: NodeJS.ProcessEnv) => boolean,
): void {
  const execve = (process as { execve?: Execve }).execve;
  if (typeof execve !== 'function' || reexecBlocker(argv, env, mayDerive) !== undefined) return;
  const tunables = [env.GLIBC_TUNABLES, OUR_TUNABLE].filter(Boolean).join(':');
  // Node checks the arguments before execve and throws then; past that point a
  // failure ends the process, which reexecBlocker has ruled out as far as known.
  try {
    execve.call(process, process.execPath, [process.argv0, ...argv], {
      ...env,
      GLIBC_TUNABLES: tunables,
      [EXEC_ORIGIN_ENV]: String(originNs()),
    });
  } catch {
    // an argument Node refused: the run goes on as it is
  }
}

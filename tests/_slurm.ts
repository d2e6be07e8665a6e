/**
 * A throw-away single-node Slurm cluster on localhost, for tests (private to tests/).
 *
 * `startCluster()` brings up, in a fresh temporary folder: `munged` (as the `munge` user, with its
 * own key, socket, pid and seed files there), `slurmctld` and `slurmd` (as root, daemonised, with
 * a `slurm.conf` there naming this host as the only node and free ports above 16000). Every
 * client call must carry `cluster.env` (`SLURM_CONF`); `cluster.run` does. `cluster.stop()`
 * cancels the jobs, shuts the daemons down, kills whichever of them (by the PIDs in their pid
 * files) still runs, and any process left whose environment names this cluster's `SLURM_CONF`
 * (a job's), and removes the folder. An `unload` listener does the same synchronously where a
 * test never called it (filtered out), and a watchdog shell does it once this process is gone
 * without either (Ctrl-C, which `deno test` answers by exiting at once; SIGKILL).
 *
 * Where the cluster cannot come up here (not Linux, not root, a binary or the `munge` user
 * missing, a daemon failing) it returns `{ skip: reason }` and leaves nothing behind.
 *
 * @module
 */

/** What a client command printed. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running test cluster. */
export interface Cluster {
  /** The temporary folder holding the configuration, state, spool and logs. */
  readonly dir: string;
  /** The environment every Slurm client call needs (`SLURM_CONF`). */
  readonly env: Record<string, string>;
  /** The node's name (this host's short name). */
  readonly node: string;
  /**
   * Runs a Slurm client (`sbatch`, `squeue`, `scancel`, `scontrol`, …) or any program (a path)
   * with `env` (and `opts.env`) in an environment cleared of an outer Slurm job's variables.
   */
  run(
    command: string,
    args: string[],
    opts?: { env?: Record<string, string>; cwd?: string },
  ): Promise<CommandResult>;
  /** `sbatch --parsable …` → the job id; throws with sbatch's output where it fails. */
  sbatch(args: string[]): Promise<string>;
  /** `squeue`'s job ids of the job (`ID`, `ID_I`) that are still queued or running. */
  queued(id: string): Promise<string[]>;
  /** `scontrol show job` → each task's state, by `ID_I` (or `ID` for a job that is no array). */
  states(id: string): Promise<Map<string, string>>;
  /** Waits until the job (`ID` or `ID_I`) has left the queue; throws after `timeoutMs`. */
  waitForJob(id: string, timeoutMs: number): Promise<void>;
  /** The last lines of the daemons' logs (for failure messages). */
  logs(lines?: number): string;
  /** Cancels every job, stops the daemons and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

const DAEMONS = ["munged", "slurmctld", "slurmd"] as const;
type Daemon = (typeof DAEMONS)[number];
const BINARIES = [...DAEMONS, "mungekey", "sbatch", "squeue", "scancel", "scontrol"];
const SEARCH = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"];

/** Finds an executable on PATH or in the usual system folders. */
function which(name: string): string | undefined {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const d of [...path, ...SEARCH]) {
    try {
      const st = Deno.statSync(`${d}/${name}`);
      if (st.isFile && (st.mode ?? 0) & 0o111) return `${d}/${name}`;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** A user's uid and gid from /etc/passwd. */
function passwdEntry(user: string): { uid: number; gid: number } | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync("/etc/passwd");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** Why no cluster can start here, from what is cheap to check; undefined where it may. */
export function slurmUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return `Slurm test cluster needs Linux (this is ${Deno.build.os})`;
  if (Deno.uid() !== 0) return "Slurm test cluster needs root (slurmd runs jobs as their user)";
  const missing = BINARIES.filter((b) => !which(b));
  if (missing.length) return `Slurm test cluster: not installed: ${missing.join(", ")}`;
  if (!passwdEntry("munge")) return "Slurm test cluster: no `munge` user";
  return undefined;
}

const decoder = new TextDecoder();

/** Runs `bin args` to the end; its exit code and output. */
async function exec(
  bin: string,
  args: string[],
  opts: { env?: Record<string, string>; uid?: number; gid?: number; cwd?: string } = {},
): Promise<CommandResult> {
  const out = await new Deno.Command(bin, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(opts.env ? { env: opts.env, clearEnv: true } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Whether TCP `port` is free on every interface. */
function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "0.0.0.0", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** `count` distinct free ports in [16000, 32000). */
function freePorts(count: number): number[] {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count && tries < 200; tries++) {
    const p = 16000 + Math.floor(Math.random() * 16000);
    if (!ports.includes(p) && portFree(p)) ports.push(p);
  }
  if (ports.length < count) throw new Error("no free TCP ports above 16000");
  return ports;
}

/** A live PID's command name (/proc/PID/comm), or undefined where it is gone. */
function procName(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // "PID (comm) STATE …": a zombie has exited and only waits for its parent to reap it.
    if (/\)\s+Z\s/.test(stat)) return undefined;
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs the daemon `d` (Debian's binaries are `slurmd-wlm` behind alternatives). */
function isDaemon(pid: number, d: Daemon): boolean {
  const name = procName(pid);
  return name !== undefined && (name === d || name === `${d}-wlm`);
}

/**
 * Live processes (but this one) whose environment names `conf` as SLURM_CONF: the cluster's
 * daemons and their helpers (slurmscriptd, slurmstepd) and every job's processes. The path is
 * the cluster's own temporary one, so nothing else matches.
 */
function clusterProcesses(conf: string): number[] {
  const needle = `\0SLURM_CONF=${conf}\0`;
  const out: number[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc")];
  } catch {
    return out;
  }
  for (const e of entries) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === Deno.pid || !procName(pid)) continue;
    try {
      if (`\0${Deno.readTextFileSync(`/proc/${pid}/environ`)}`.includes(needle)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/**
 * The watchdog: a shell that waits for `parent` to exit, then kills every process of the cluster
 * (by `SLURM_CONF` in its environment) and removes `dir`. `stop` kills it once it has done that.
 */
const WATCHDOG = `
trap '' HUP INT TERM
parent=$1 conf=$2 dir=$3
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
for round in 1 2 3; do
  for f in /proc/[0-9]*/environ; do
    if grep -qzx "SLURM_CONF=$conf" "$f" 2>/dev/null; then
      p=\${f#/proc/}; kill -KILL "\${p%/environ}" 2>/dev/null
    fi
  done
  sleep 1
done
rm -rf -- "$dir"
`;

/** Starts the watchdog in the background (outside this process's signals); its PID. */
function startWatchdog(conf: string, dir: string): number | undefined {
  try {
    const out = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        '/bin/sh -c "$1" watchdog "$2" "$3" "$4" </dev/null >/dev/null 2>&1 & echo $!',
        "launch",
        WATCHDOG,
        String(Deno.pid),
        conf,
        dir,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      // Not the cluster's environment: the watchdog must not match its own search.
      env: cleanEnv({}),
      clearEnv: true,
    }).outputSync();
    const pid = Number(new TextDecoder().decode(out.stdout).trim());
    return pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Blocks for `ms` (for the synchronous clean-up on unload). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Environment without a surrounding Slurm job's settings (an outer allocation's SLURM_* vars). */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!/^(SLURM_|SBATCH_|SQUEUE_|SCONTROL_|SALLOC_|SRUN_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** `slurmd -C` → the CPUs and memory (MB) to declare for this node. */
async function nodeResources(slurmd: string): Promise<{ cpus: number; memory: number }> {
  const r = await exec(slurmd, ["-C"]);
  const cpus = Number(/\bCPUs=(\d+)/.exec(r.stdout)?.[1]);
  const memory = Number(/\bRealMemory=(\d+)/.exec(r.stdout)?.[1]);
  if (r.code !== 0 || !(cpus > 0) || !(memory > 0)) {
    throw new Error(`slurmd -C failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  return { cpus, memory };
}

/** The `slurm.conf` of a one-node cluster rooted at `dir`. */
function slurmConf(o: {
  dir: string;
  socket: string;
  node: string;
  cpus: number;
  memory: number;
  ctldPort: number;
  dPort: number;
}): string {
  const d = o.dir;
  return [
    "ClusterName=ptqtest",
    "SlurmctldHost=localhost",
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    `AuthInfo=socket=${o.socket}`,
    "CredType=cred/munge",
    "MailProg=/bin/true",
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_CPU",
    "SchedulerType=sched/backfill",
    "MpiDefault=none",
    "ReturnToService=2",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    // Finished jobs stay visible to `scontrol show job` for the test's length.
    "MinJobAge=600",
    `StateSaveLocation=${d}/state`,
    `SlurmdSpoolDir=${d}/spool`,
    `SlurmctldPidFile=${d}/slurmctld.pid`,
    `SlurmdPidFile=${d}/slurmd.pid`,
    `SlurmctldLogFile=${d}/slurmctld.log`,
    `SlurmdLogFile=${d}/slurmd.log`,
    `SlurmctldPort=${o.ctldPort}`,
    `SlurmdPort=${o.dPort}`,
    "SlurmctldDebug=info",
    "SlurmdDebug=info",
    `NodeName=${o.node} NodeAddr=127.0.0.1 CPUs=${o.cpus} RealMemory=${o.memory} State=UNKNOWN`,
    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    "",
  ].join("\n");
}

/** Starts a single-node cluster, or says why it cannot here (having cleaned up). */
export async function startCluster(): Promise<Cluster | { skip: string }> {
  const why = slurmUnavailable();
  if (why) return { skip: why };
  const bin = Object.fromEntries(BINARIES.map((b) => [b, which(b)!]));
  const munge = passwdEntry("munge")!;
  const dir = await Deno.makeTempDir({ prefix: "ptq-slurm-" });
  // munged (as `munge`) must reach its folder, and refuses a socket folder others cannot enter.
  await Deno.chmod(dir, 0o755);
  const mdir = `${dir}/munge`;
  const socket = `${mdir}/munge.socket`;
  const pidFiles: Record<Daemon, string> = {
    munged: `${mdir}/munged.pid`,
    slurmctld: `${dir}/slurmctld.pid`,
    slurmd: `${dir}/slurmd.pid`,
  };
  const node = Deno.hostname().split(".")[0];
  const conf = `${dir}/slurm.conf`;
  const env = { SLURM_CONF: conf };
  const clientEnv = cleanEnv(env);
  const started = new Map<Daemon, number>();
  let stopped = false;

  const readPid = (d: Daemon): number | undefined => {
    try {
      const pid = Number(Deno.readTextFileSync(pidFiles[d]).trim());
      return pid > 1 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  /** Our daemon's PID while it runs (the PID its pid file named, still that program). */
  const alive = (d: Daemon): number | undefined => {
    const pid = started.get(d) ?? readPid(d);
    if (pid === undefined) return undefined;
    started.set(d, pid);
    return isDaemon(pid, d) ? pid : undefined;
  };
  const kill = (d: Daemon, signal: Deno.Signal) => {
    const pid = alive(d);
    if (pid === undefined) return;
    try {
      Deno.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  };
  const logs = (lines = 15): string =>
    [
      ["munged", `${mdir}/munged.log`],
      ["slurmctld", `${dir}/slurmctld.log`],
      ["slurmd", `${dir}/slurmd.log`],
    ].map(([name, file]) => {
      let text = "";
      try {
        text = Deno.readTextFileSync(file).trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        text = "(no log)";
      }
      return `--- ${name} (${file}):\n${text}`;
    }).join("\n");
  const run = (
    command: string,
    args: string[],
    opts: { env?: Record<string, string>; cwd?: string } = {},
  ) =>
    exec(command.includes("/") ? command : bin[command] ?? which(command) ?? command, args, {
      env: { ...clientEnv, ...opts.env },
      cwd: opts.cwd,
    });

  /** Kills what is left of the cluster: its daemons, then any process of its jobs. */
  const killAll = () => {
    for (const d of [...DAEMONS].reverse()) kill(d, "SIGKILL");
    for (const pid of clusterProcesses(conf)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
  };
  /** Removes the folder, retrying while a dying process still writes there. */
  const removeDirSync = (): boolean => {
    for (let i = 0; i < 10; i++) {
      try {
        Deno.removeSync(dir, { recursive: true });
        return true;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return true;
        killAll();
        sleepSync(100);
      }
    }
    return false;
  };
  /** `stop` where nothing can be awaited (`unload`: a test that never ran, filtered out). */
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    killAll();
    for (let i = 0; i < 50 && clusterProcesses(conf).length; i++) sleepSync(20);
    if (removeDirSync()) killWatchdog();
  };
  const onUnload = () => stopSync();
  globalThis.addEventListener("unload", onUnload);
  // Where this process dies without either (Ctrl-C: `deno test` exits without running listeners;
  // SIGKILL; a crash), a watchdog outside it cleans up once it is gone.
  const watchdog = startWatchdog(conf, dir);
  const killWatchdog = () => {
    if (watchdog === undefined || procName(watchdog) !== "sh") return;
    try {
      Deno.kill(watchdog, "SIGKILL");
    } catch {
      // gone
    }
  };

  const stop = async () => {
    if (stopped) return;
    try {
      if (alive("slurmctld")) {
        // Jobs first, so that no slurmstepd or job outlives its slurmd.
        await run("scancel", ["--full", "--user", "root"]).catch(() => undefined);
        for (let i = 0; i < 40; i++) {
          const q = await run("squeue", ["-h", "-o", "%i"]).catch(() => undefined);
          if (!q || q.code !== 0 || !q.stdout.trim()) break;
          await sleep(250);
        }
        await run("scontrol", ["shutdown"]).catch(() => undefined);
      }
      for (const d of ["slurmd", "slurmctld", "munged"] as const) {
        for (const [signal, waits] of [["SIGTERM", 40], ["SIGKILL", 20]] as const) {
          if (!alive(d)) break;
          // slurmd and slurmctld got `scontrol shutdown`: give them a moment before SIGTERM.
          if (signal === "SIGTERM" && d !== "munged") {
            for (let i = 0; i < 20 && alive(d); i++) await sleep(100);
            if (!alive(d)) break;
          }
          kill(d, signal);
          for (let i = 0; i < waits && alive(d); i++) await sleep(100);
        }
      }
    } finally {
      stopped = true;
      globalThis.removeEventListener("unload", onUnload);
      killAll();
      let removed = false;
      for (let i = 0; i < 10 && !removed; i++) {
        const e = await Deno.remove(dir, { recursive: true }).then(() => undefined, (e) => e);
        removed = !e || e instanceof Deno.errors.NotFound;
        if (!removed) {
          killAll();
          await sleep(100);
        }
      }
      if (removed) killWatchdog();
    }
  };

  /** Starts a daemonising program; its pid file must appear (and name a live `d`) in time. */
  const daemon = async (d: Daemon, args: string[], as?: { uid: number; gid: number }) => {
    const r = await exec(bin[d], args, { env: clientEnv, ...(as ?? {}) });
    if (r.code !== 0) {
      throw new Error(`${d} exited with ${r.code}: ${(r.stderr + r.stdout).trim()}`);
    }
    for (let i = 0; i < 100; i++) {
      const pid = readPid(d);
      if (pid !== undefined && isDaemon(pid, d)) {
        started.set(d, pid);
        return;
      }
      await sleep(100);
    }
    throw new Error(`${d} wrote no pid file (${pidFiles[d]}) naming a live ${d}`);
  };

  try {
    for (const sub of ["state", "spool"]) await Deno.mkdir(`${dir}/${sub}`);
    await Deno.mkdir(mdir, { mode: 0o755 });
    await Deno.chown(mdir, munge.uid, munge.gid);
    await Deno.chmod(mdir, 0o755);
    const key = await exec(bin.mungekey, ["-c", "-k", `${mdir}/munge.key`], munge);
    if (key.code !== 0) throw new Error(`mungekey -c failed: ${key.stderr.trim()}`);
    await daemon("munged", [
      `--socket=${socket}`,
      `--pid-file=${pidFiles.munged}`,
      `--log-file=${mdir}/munged.log`,
      `--seed-file=${mdir}/munged.seed`,
      `--key-file=${mdir}/munge.key`,
    ], munge);
    const { cpus, memory } = await nodeResources(bin.slurmd);
    const [ctldPort, dPort] = freePorts(2);
    await Deno.writeTextFile(conf, slurmConf({ dir, socket, node, cpus, memory, ctldPort, dPort }));
    await daemon("slurmctld", ["-f", conf]);
    await daemon("slurmd", ["-f", conf]);
    // Up when the controller answers and the node is idle.
    let state = "";
    for (let i = 0; i < 150; i++) {
      if (!alive("slurmctld") || !alive("slurmd")) throw new Error("a Slurm daemon exited");
      const r = await run("scontrol", ["-o", "show", "node", node]).catch(() => undefined);
      state = /\bState=(\S+)/.exec(r?.stdout ?? "")?.[1] ?? "";
      if (r?.code === 0 && /^IDLE/.test(state)) break;
      await sleep(200);
      state = `not idle (${state || r?.stderr.trim() || "no answer"})`;
    }
    if (state.startsWith("not idle")) throw new Error(`node ${node} ${state} after 30 s`);
  } catch (e) {
    const reason = `Slurm test cluster did not start: ${(e as Error).message}\n${logs(8)}`;
    await stop();
    return { skip: reason };
  }

  const queued = async (id: string): Promise<string[]> => {
    const r = await run("squeue", ["-h", "-j", id, "-o", "%i"]);
    // A job purged from the controller's memory is not known any more: it left the queue.
    if (r.code !== 0 && /Invalid job id/i.test(r.stderr)) return [];
    if (r.code !== 0) throw new Error(`squeue -j ${id} failed (exit ${r.code}): ${r.stderr}`);
    return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  };
  const states = async (id: string): Promise<Map<string, string>> => {
    const r = await run("scontrol", ["-o", "show", "job", id]);
    if (r.code !== 0) throw new Error(`scontrol show job ${id} failed: ${r.stderr}`);
    const out = new Map<string, string>();
    for (const line of r.stdout.split("\n").filter((l) => l.trim())) {
      const f = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\S+)`).exec(line)?.[1];
      const arr = f("ArrayJobId"), task = f("ArrayTaskId");
      out.set(arr && task ? `${arr}_${task}` : f("JobId") ?? "?", f("JobState") ?? "?");
    }
    return out;
  };

  return {
    dir,
    env,
    node,
    run,
    async sbatch(args) {
      const r = await run("sbatch", ["--parsable", ...args]);
      const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
      if (r.code !== 0 || !id) {
        throw new Error(`sbatch failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
      }
      return id;
    },
    queued,
    states,
    async waitForJob(id, timeoutMs) {
      const end = Date.now() + timeoutMs;
      let left: string[] = [];
      while (Date.now() < end) {
        left = await queued(id);
        if (!left.length) return;
        await sleep(1000);
      }
      const show = await run("scontrol", ["show", "job", id]);
      throw new Error(
        `job ${id} still queued or running after ${timeoutMs / 1000} s: ${left.join(", ")}\n` +
          `${show.stdout}${show.stderr}\n${logs()}`,
      );
    },
    logs,
    stop,
  };
}

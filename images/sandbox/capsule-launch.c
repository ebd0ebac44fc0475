/*
 * capsule-launch: the program every Capsule sandbox container runs (under tini).
 *
 *   capsule-launch [--cap N] -- ARGV...   run ARGV now (cold path)
 *   capsule-launch --wait-job             read one job from stdin, then run it (warm pool path)
 *
 * It runs the program with pipes for stdin/stdout/stderr and writes everything back on its own
 * stdout as frames, the same shape as Docker's attach multiplexing:
 *
 *   [type:1][0][0][0][length:4 big-endian][payload]
 *   type 1 = program stdout, 2 = program stderr,
 *        3 = stats (JSON, every second and once at the end),
 *        4 = exit (JSON {"exit_code":N,"signal":S,"oom_kills":N,"elapsed_ms":N,"terminated_by":T}, last
 *            frame): S is the signal that killed the program (0 = it exited); T is the first of
 *            SIGTERM/SIGINT/SIGHUP/SIGQUIT the launcher received (and forwarded), 0 = none. The launcher
 *            cannot tell who sent it (tini forwards the engine's and a `docker kill`'s alike): the
 *            server knows which signals it sent itself, so it tells an outside stop from its own;
 *        5 = started (JSON {"pid":N}),
 *        6 = skipped (JSON {"stream":"stdout"|"stderr","bytes":N}): N bytes of that stream were
 *            dropped here, right before the output frames that follow.
 *
 * Output cap (--cap N, or the job's cap field; 0 = forward everything): per stream, the first N bytes
 * are forwarded as they come; after that only the last N - ceil(N/2) bytes are kept in a ring and the
 * rest is counted, not sent. The ring goes out (after a skipped frame) when the program ends or when
 * a termination signal arrives (a timeout or a cancel: the tail must not die with a SIGKILL), and from
 * then on everything is forwarded again. The server keeps head ceil(N/2) and tail N - ceil(N/2) of
 * every stream anyway, so the result is the same as forwarding all, while a program that writes
 * 100 MB no longer pushes 100 MB through the engine's attach stream (the throughput bound measured in
 * bench/README.md).
 *
 * Memory guard (env CAPSULE_MEMORY_GUARD=N, set by Capsule for profiles with `memory_guard`, removed
 * from the program's environment): every 10 ms, when the cgroup's memory use reaches N bytes, the
 * program and everything it started get SIGKILL and the kill counts as an OOM kill. For gVisor, whose
 * cgroupfs has no OOM counter and whose host-side OOM kills take the whole sandbox (and the engine
 * loses about 1 in 4 of their records): the engine's limit is set N + headroom, as the backstop.
 *
 * A figure the launcher cannot read (no such cgroup file: gVisor's cgroupfs has cpuacct, memory and
 * pids but no blkio, no memory peak and no OOM counter) is sent as -1, never as a made-up 0.
 *
 * Why a launcher: the container's cgroup disappears the moment the container stops, so exact CPU
 * time and peak memory must be read from inside, right after the program ends; and the exit frame
 * gives the exit code ~100 ms before the engine reports the container's exit. The program cannot
 * forge frames: it only ever writes into pipes, and the launcher makes itself non-dumpable so its
 * file descriptors cannot be opened through /proc.
 *
 * Job format (--wait-job): a header line "CAPSULE-JOB <n>\n" followed by n bytes of NUL-terminated
 * fields: cwd, argc, argv[0..argc), envc, env[0..envc) ("NAME=value"), and optionally the output cap
 * in bytes. Every stdin byte after the job is the program's stdin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { F_STDOUT = 1, F_STDERR = 2, F_STATS = 3, F_EXIT = 4, F_STARTED = 5, F_SKIPPED = 6 };
#define MAX_CAP (256LL * 1024 * 1024)
#define MAX_SAMPLES 240
#define MAX_JOB (4 * 1024 * 1024)

static pid_t child = -1;
static int terminated_by = 0; /* first termination signal received, reported in the exit frame */

static void die(const char *what) {
  fprintf(stderr, "capsule-launch: %s: %s\n", what, strerror(errno));
  _exit(127);
}

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd w = {fd, POLLOUT, 0};
        poll(&w, 1, 100);
        continue;
      }
      _exit(125); /* our stdout is gone: nobody is listening any more */
    }
    p += n;
    len -= (size_t)n;
  }
}

static void frame(int type, const void *data, size_t len) {
  unsigned char h[8] = {(unsigned char)type, 0, 0, 0,
                        (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                        (unsigned char)(len >> 8), (unsigned char)len};
  write_all(1, h, 8);
  if (len) write_all(1, data, len);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- cgroup accounting (v1 paths first, then v2) ---- */

/* Read a small file into buf as a C string; false when it is missing or empty. */
static int slurp(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return 1;
}

static long long read_ll(const char *path) {
  char buf[64];
  if (!slurp(path, buf, sizeof buf)) return -1;
  if (strncmp(buf, "max", 3) == 0) return -1;
  return atoll(buf);
}

/* Value of "key N" in a file of such lines (cpu.stat, memory.oom_control, io.stat totals). */
static long long read_key(const char *path, const char *key) {
  char buf[8192];
  if (!slurp(path, buf, sizeof buf)) return -1;
  long long total = -1;
  size_t klen = strlen(key);
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    char *p = line;
    /* blkio lines are "major:minor Read N"; skip the device column when present */
    if (strchr(p, ':') && strchr(p, ':') < strchr(p, ' ')) p = strchr(p, ' ') + 1;
    if (strncmp(p, key, klen) == 0 && p[klen] == ' ') total = (total < 0 ? 0 : total) + atoll(p + klen + 1);
  }
  return total;
}

static long long cpu_ns(void) {
  long long v = read_ll("/sys/fs/cgroup/cpuacct/cpuacct.usage");
  if (v >= 0) return v;
  v = read_key("/sys/fs/cgroup/cpu.stat", "usage_usec");
  return v >= 0 ? v * 1000 : -1;
}
static long long mem_now(void) {
  long long v = read_ll("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  return v >= 0 ? v : read_ll("/sys/fs/cgroup/memory.current");
}
static long long mem_peak(void) {
  long long v = read_ll("/sys/fs/cgroup/memory/memory.max_usage_in_bytes");
  return v >= 0 ? v : read_ll("/sys/fs/cgroup/memory.peak");
}
static long long pids_now(void) {
  long long v = read_ll("/sys/fs/cgroup/pids/pids.current");
  return v >= 0 ? v : read_ll("/sys/fs/cgroup/pids.current");
}
static long long oom_kills(void) {
  long long v = read_key("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill");
  return v >= 0 ? v : read_key("/sys/fs/cgroup/memory.events", "oom_kill");
}
static long long blkio(const char *v1key, const char *v2key) {
  /* v1: "maj:min Read N" lines (none yet when nothing was read: 0). v2 io.stat: "maj:min rbytes=N ...".
   * Neither file is -1, unknown: gVisor's cgroupfs has no blkio controller (its I/O goes through the
   * gofer, not a block device). */
  static const char *v1 = "/sys/fs/cgroup/blkio/blkio.throttle.io_service_bytes";
  if (access(v1, R_OK) == 0) {
    long long v = read_key(v1, v1key);
    return v >= 0 ? v : 0;
  }
  if (access("/sys/fs/cgroup/io.stat", R_OK) != 0) return -1;
  char buf[8192];
  if (!slurp("/sys/fs/cgroup/io.stat", buf, sizeof buf)) return 0;
  long long total = 0;
  size_t klen = strlen(v2key);
  for (char *p = strstr(buf, v2key); p; p = strstr(p + klen, v2key)) total += atoll(p + klen);
  return total;
}

/* The memory guard (see the header): 0 = off. */
#define GUARD_EVERY_MS 10
static long long mem_guard = 0, guard_kills = 0;
static long long oom_count(void) {
  long long k = oom_kills();
  return guard_kills > k ? guard_kills : k;
}

struct sample { long long t_ms, cpu_ns, mem; };
static struct sample samples[MAX_SAMPLES];
static int nsamples = 0;
static long long sample_every_ms = 100, next_sample_ms = 0, next_stats_ms = 0, start_ms = 0;
static long long pids_peak = 0, mem_peak_seen = 0, cpu_start = 0;

static void take_sample(long long t) {
  long long c = cpu_ns(), m = mem_now(), p = pids_now();
  if (p > pids_peak) pids_peak = p;
  if (m > mem_peak_seen) mem_peak_seen = m;
  if (nsamples == MAX_SAMPLES) { /* keep every other sample and sample half as often */
    for (int i = 0; i < MAX_SAMPLES / 2; i++) samples[i] = samples[2 * i + 1];
    nsamples = MAX_SAMPLES / 2;
    sample_every_ms *= 2;
  }
  samples[nsamples++] = (struct sample){t - start_ms, c, m};
}

static void emit_stats(int final) {
  static char buf[MAX_SAMPLES * 64 + 512];
  long long c = cpu_ns(), peak = mem_peak();
  if (peak < mem_peak_seen) peak = mem_peak_seen;
  int n = snprintf(buf, sizeof buf,
                   "{\"final\":%s,\"elapsed_ms\":%lld,\"cpu_ns\":%lld,\"memory_bytes\":%lld,\"memory_peak_bytes\":%lld,"
                   "\"pids\":%lld,\"pids_peak\":%lld,\"blkio_read_bytes\":%lld,\"blkio_write_bytes\":%lld,\"oom_kills\":%lld,\"samples\":[",
                   final ? "true" : "false", now_ms() - start_ms, c >= 0 ? c - cpu_start : -1, mem_now(), peak,
                   pids_now(), pids_peak, blkio("Read", "rbytes="), blkio("Write", "wbytes="), oom_count());
  for (int i = 0; i < nsamples && n < (int)sizeof buf - 64; i++)
    n += snprintf(buf + n, sizeof buf - n, "%s[%lld,%lld,%lld]", i ? "," : "", samples[i].t_ms,
                  samples[i].cpu_ns >= 0 ? samples[i].cpu_ns - cpu_start : -1, samples[i].mem);
  n += snprintf(buf + n, sizeof buf - n, "]}");
  frame(F_STATS, buf, (size_t)n);
}

/* ---- the job ---- */

struct job { char *cwd; char **argv; char **env; long long cap; };

static int read_exact(int fd, char *buf, size_t len) {
  while (len) {
    ssize_t n = read(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The NUL-terminated field at *p, advancing past it; NULL when the data ends. */
static char *next_field(char **p, char *end) {
  if (*p >= end) return NULL;
  char *field = *p;
  size_t n = strnlen(field, (size_t)(end - field));
  if (field + n >= end) return NULL; /* not terminated */
  *p = field + n + 1;
  return field;
}

/* Parse "CAPSULE-JOB <n>\n" + n bytes from stdin, reading no further than the job itself. */
static int read_job(struct job *job) {
  char line[64];
  size_t i = 0;
  while (i < sizeof line - 1) {
    if (read_exact(0, line + i, 1) < 0) return -1;
    if (line[i] == '\n') break;
    i++;
  }
  line[i] = 0;
  if (strncmp(line, "CAPSULE-JOB ", 12) != 0) return -1;
  long len = atol(line + 12);
  if (len <= 0 || len > MAX_JOB) return -1;
  char *data = malloc((size_t)len + 1);
  if (!data || read_exact(0, data, (size_t)len) < 0) return -1;
  data[len] = 0;
  char *p = data, *end = data + len;
  job->cwd = next_field(&p, end);
  char *s = next_field(&p, end);
  if (!job->cwd || !s) return -1;
  int argc = atoi(s);
  if (argc < 1 || argc > 4096) return -1;
  job->argv = calloc((size_t)argc + 1, sizeof(char *));
  for (int k = 0; k < argc; k++) if (!(job->argv[k] = next_field(&p, end))) return -1;
  s = next_field(&p, end);
  int envc = s ? atoi(s) : 0;
  if (envc < 0 || envc > 4096) return -1;
  job->env = calloc((size_t)envc + 1, sizeof(char *));
  for (int k = 0; k < envc; k++) if (!(job->env[k] = next_field(&p, end))) return -1;
  s = next_field(&p, end);
  job->cap = s ? atoll(s) : 0;
  if (job->cap < 0 || job->cap > MAX_CAP) return -1;
  return 0;
}

/* ---- the output cap: forward the first `pass` bytes, then keep a ring of the last `ring_cap` ---- */

struct capped {
  int type;                /* F_STDOUT or F_STDERR */
  const char *name;
  long long pass;          /* bytes still forwarded as they come; -1 = forward everything */
  char *ring;
  size_t ring_cap, ring_len, ring_start;
  long long skipped;
};

static void capped_init(struct capped *c, int type, const char *name, long long cap) {
  *c = (struct capped){type, name, cap > 0 ? cap : -1, NULL, cap > 0 ? (size_t)(cap - (cap + 1) / 2) : 0, 0, 0, 0};
}

static void ring_push(struct capped *c, const char *data, size_t len) {
  if (c->ring_cap == 0) { c->skipped += (long long)len; return; }
  if (!c->ring && !(c->ring = malloc(c->ring_cap))) { c->ring_cap = 0; c->skipped += (long long)len; return; }
  if (len >= c->ring_cap) { /* only the last ring_cap bytes of this write survive */
    c->skipped += (long long)(c->ring_len + len - c->ring_cap);
    memcpy(c->ring, data + len - c->ring_cap, c->ring_cap);
    c->ring_start = 0;
    c->ring_len = c->ring_cap;
    return;
  }
  size_t over = c->ring_len + len > c->ring_cap ? c->ring_len + len - c->ring_cap : 0;
  c->skipped += (long long)over;
  c->ring_start = (c->ring_start + over) % c->ring_cap;
  c->ring_len -= over;
  size_t at = (c->ring_start + c->ring_len) % c->ring_cap;
  size_t first = len < c->ring_cap - at ? len : c->ring_cap - at;
  memcpy(c->ring + at, data, first);
  memcpy(c->ring, data + first, len - first);
  c->ring_len += len;
}

static void capped_write(struct capped *c, const char *data, size_t len) {
  if (c->pass < 0) { frame(c->type, data, len); return; }
  size_t now = (long long)len < c->pass ? len : (size_t)c->pass;
  if (now) frame(c->type, data, now);
  c->pass -= (long long)now;
  if (len > now) ring_push(c, data + now, len - now);
}

/* Send what the ring holds (after a skipped frame when bytes were dropped) and forward all from now on. */
static void capped_flush(struct capped *c) {
  if (c->pass < 0) return;
  c->pass = -1;
  if (c->skipped) {
    char buf[96];
    int n = snprintf(buf, sizeof buf, "{\"stream\":\"%s\",\"bytes\":%lld}", c->name, c->skipped);
    frame(F_SKIPPED, buf, (size_t)n);
  }
  size_t first = c->ring_len < c->ring_cap - c->ring_start ? c->ring_len : c->ring_cap - c->ring_start;
  if (first) frame(c->type, c->ring + c->ring_start, first);
  if (c->ring_len > first) frame(c->type, c->ring, c->ring_len - first);
  free(c->ring);
  c->ring = NULL;
  c->ring_len = 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int main(int argc, char **argv) {
  struct job job = {0};
  prctl(PR_SET_DUMPABLE, 0); /* the program (same uid) cannot open our fds through /proc */
  if (argc >= 2 && strcmp(argv[1], "--wait-job") == 0) {
    if (read_job(&job) < 0) {
      fprintf(stderr, "capsule-launch: malformed job on stdin\n");
      return 126;
    }
  } else if (argc >= 3 && strcmp(argv[1], "--") == 0) {
    job.argv = argv + 2;
  } else if (argc >= 5 && strcmp(argv[1], "--cap") == 0 && strcmp(argv[3], "--") == 0) {
    job.cap = atoll(argv[2]);
    job.argv = argv + 4;
    if (job.cap < 0 || job.cap > MAX_CAP) {
      fprintf(stderr, "capsule-launch: bad --cap %s\n", argv[2]);
      return 126;
    }
  } else {
    fprintf(stderr, "usage: capsule-launch [--cap N] -- ARGV... | capsule-launch --wait-job\n");
    return 126;
  }

  const char *guard = getenv("CAPSULE_MEMORY_GUARD");
  if (guard) {
    mem_guard = atoll(guard);
    unsetenv("CAPSULE_MEMORY_GUARD");
  }
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) die("pipe");

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGQUIT);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGUSR2);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  /* A program that exits without reading its stdin makes the next write to its pipe fail: EPIPE is
   * handled below, but the default SIGPIPE killed the launcher (engine exit code 141, seen in CI). */
  signal(SIGPIPE, SIG_IGN);

  start_ms = now_ms();
  /* A cold container's whole cgroup usage belongs to this run; a pooled one waited idle first. */
  cpu_start = job.env ? cpu_ns() : 0;
  if (cpu_start < 0) cpu_start = 0;
  child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_DFL); /* an ignored signal stays ignored across exec: programs expect the default */
    setpgid(0, 0); /* its own process group, so signals reach its children too */
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (job.cwd && *job.cwd && chdir(job.cwd) < 0) {
      fprintf(stderr, "capsule-launch: cannot enter %s: %s\n", job.cwd, strerror(errno));
      _exit(126);
    }
    if (job.env) execvpe(job.argv[0], job.argv, job.env);
    else execvp(job.argv[0], job.argv);
    fprintf(stderr, "capsule-launch: cannot run %s: %s\n", job.argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  setpgid(child, child);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  set_nonblock(out[0]);
  set_nonblock(err[0]);
  set_nonblock(in[1]);
  set_nonblock(0);
  {
    char started[48];
    int n = snprintf(started, sizeof started, "{\"pid\":%d}", (int)child);
    frame(F_STARTED, started, (size_t)n);
  }

  static char buf[65536];
  static char inbuf[65536];
  struct capped cout, cerr;
  capped_init(&cout, F_STDOUT, "stdout", job.cap);
  capped_init(&cerr, F_STDERR, "stderr", job.cap);
  size_t inlen = 0;
  int stdin_open = 1, out_open = 1, err_open = 1, exited = 0, status = 0;
  next_sample_ms = start_ms;
  next_stats_ms = start_ms + 1000;
  long long next_guard_ms = start_ms;

  while (!exited) {
    long long t = now_ms();
    if (t >= next_sample_ms) {
      take_sample(t);
      next_sample_ms = t + sample_every_ms;
    }
    if (t >= next_stats_ms) {
      emit_stats(0);
      next_stats_ms = t + 1000;
    }
    if (mem_guard > 0 && !guard_kills && t >= next_guard_ms) {
      long long m = mem_now();
      if (m > mem_peak_seen) mem_peak_seen = m;
      if (m >= mem_guard) {
        guard_kills = 1;
        kill(-child, SIGKILL);
        kill(-1, SIGKILL); /* what left the program's group too: everything but init and this launcher */
      }
      next_guard_ms = t + GUARD_EVERY_MS;
    }
    struct pollfd fds[5];
    int nf = 0, i_sig = -1, i_out = -1, i_err = -1, i_in = -1, i_pin = -1;
    fds[nf] = (struct pollfd){sfd, POLLIN, 0}; i_sig = nf++;
    if (out_open) { fds[nf] = (struct pollfd){out[0], POLLIN, 0}; i_out = nf++; }
    if (err_open) { fds[nf] = (struct pollfd){err[0], POLLIN, 0}; i_err = nf++; }
    if (stdin_open && inlen == 0) { fds[nf] = (struct pollfd){0, POLLIN, 0}; i_in = nf++; }
    if (inlen > 0) { fds[nf] = (struct pollfd){in[1], POLLOUT, 0}; i_pin = nf++; }
    long long wait = (mem_guard > 0 && !guard_kills && next_guard_ms < next_sample_ms ? next_guard_ms : next_sample_ms) - now_ms();
    if (wait < 0) wait = 0;
    if (poll(fds, (nfds_t)nf, (int)wait) < 0 && errno != EINTR) die("poll");

    if (i_out >= 0 && fds[i_out].revents) {
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n > 0) capped_write(&cout, buf, (size_t)n);
      else if (n == 0 || errno != EAGAIN) out_open = 0;
    }
    if (i_err >= 0 && fds[i_err].revents) {
      ssize_t n = read(err[0], buf, sizeof buf);
      if (n > 0) capped_write(&cerr, buf, (size_t)n);
      else if (n == 0 || errno != EAGAIN) err_open = 0;
    }
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t n = read(0, inbuf, sizeof inbuf);
      if (n > 0) inlen = (size_t)n;
      else if (n == 0 || errno != EAGAIN) { stdin_open = 0; close(in[1]); in[1] = -1; }
    }
    if (i_pin >= 0 && fds[i_pin].revents) {
      ssize_t n = write(in[1], inbuf, inlen);
      if (n > 0) { memmove(inbuf, inbuf + n, inlen - (size_t)n); inlen -= (size_t)n; }
      else if (n < 0 && errno != EAGAIN) { inlen = 0; stdin_open = 0; close(in[1]); in[1] = -1; }
    }
    if (!stdin_open && inlen == 0 && in[1] >= 0) { close(in[1]); in[1] = -1; }
    if (fds[i_sig].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          if (waitpid(child, &status, WNOHANG) == child) exited = 1;
        } else {
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP || si.ssi_signo == SIGQUIT) {
            if (!terminated_by) terminated_by = (int)si.ssi_signo;
            capped_flush(&cout); /* a SIGKILL may follow: the kept tails go out now */
            capped_flush(&cerr);
          }
          kill(-child, (int)si.ssi_signo); /* forward to the whole program group */
        }
      }
    }
  }

  /* Drain what the program already wrote; children it left behind die with the container. */
  for (int fd_i = 0; fd_i < 2; fd_i++) {
    int fd = fd_i == 0 ? out[0] : err[0];
    int open_ = fd_i == 0 ? out_open : err_open;
    while (open_) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) capped_write(fd_i == 0 ? &cout : &cerr, buf, (size_t)n);
      else break;
    }
  }
  capped_flush(&cout);
  capped_flush(&cerr);
  take_sample(now_ms());
  emit_stats(1);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char exitbuf[192];
  int n = snprintf(exitbuf, sizeof exitbuf, "{\"exit_code\":%d,\"signal\":%d,\"oom_kills\":%lld,\"elapsed_ms\":%lld,\"terminated_by\":%d}",
                   code, WIFSIGNALED(status) ? WTERMSIG(status) : 0, oom_count(), now_ms() - start_ms, terminated_by);
  frame(F_EXIT, exitbuf, (size_t)n);
  return code;
}

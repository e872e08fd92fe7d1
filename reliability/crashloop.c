/* crashloop.c: rel_crashloop, the parent of the crash loops. Each cycle starts rel_writer, kills it
 * with SIGKILL at a random moment, reopens the database and checks it against what was
 * acknowledged: every acknowledged batch fully present, no batch torn across families, no gap,
 * no altered value, a clean open. With --shim the writer runs under an LD_PRELOAD shim (the
 * power-loss shim holds writes until fsync, so a kill also drops everything not synced).
 *
 * usage: rel_crashloop --db DIR --writer PATH [--cycles N] [--sync 0|1] [--seed S]
 *                      [--min-ms A] [--max-ms B] [--pace-us N] [--shim LIB.so] [--keep]
 *                      [--allow-loss] [--verbose]
 * Exit 0 when every check held; the last line is the summary. With --allow-loss, losing
 * acknowledged batches of the current cycle is counted but not a failure (sync = false under the
 * power-loss shim); losing anything from an earlier, verified cycle always is. */
#include "rel.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  const char *db, *writer, *shim;
  long cycles, min_ms, max_ms, pace_us;
  int sync, keep, allow_loss, verbose;
  uint64_t seed;
} config;

typedef struct {
  uint64_t acknowledged, lost, lost_old, torn, gaps, altered, bad_last, open_failures,
      read_errors, writer_failures, start_mismatch, killed_before_ready, unacked_present,
      cycles_with_loss, max_lost_in_cycle;
} totals;

static long opt_long(const char *s) { return strtol(s, NULL, 10); }

/* Runs the writer until delay_ms passed, then SIGKILLs it. Returns the ready number (0 if it never
 * said ready) and fills *ack_max with the last acknowledged batch. -1 when the writer died on its
 * own. */
static int run_cycle(const config *c, double delay_ms, uint64_t *ready, uint64_t *ack_max,
                     uint64_t *acks) {
  int fds[2], status, died = 0;
  pid_t pid;
  char buf[65536], line[64];
  size_t ll = 0;
  double deadline;
  *ready = 0;
  *acks = 0;
  if (pipe(fds) != 0) {
    perror("pipe");
    exit(2);
  }
  pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(2);
  }
  if (pid == 0) {
    char pace[32];
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (c->shim) {
      const char *old = getenv("LD_PRELOAD");
      char pre[PATH_MAX * 4], dir[PATH_MAX];
      snprintf(pre, sizeof pre, "%s%s%s", old ? old : "", old ? " " : "", c->shim);
      setenv("LD_PRELOAD", pre, 1);
      if (realpath(c->db, dir) == NULL)
        snprintf(dir, sizeof dir, "%s", c->db);
      setenv("QUARRY_SHIM_DIR", dir, 1);
      /* an instrumented writer under a preloaded shim: ASan need not come first */
      setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
    }
    snprintf(pace, sizeof pace, "%ld", c->pace_us);
    execl(c->writer, c->writer, c->db, "--sync", c->sync ? "1" : "0", "--pace-us", pace,
          (char *)NULL);
    perror("exec rel_writer");
    _exit(127);
  }
  close(fds[1]);
  deadline = rel_now_ms() + delay_ms;
  for (;;) {
    struct pollfd p = {fds[0], POLLIN, 0};
    double left = deadline - rel_now_ms();
    ssize_t r;
    if (!died && left <= 0) {
      kill(pid, SIGKILL);
      died = 1;
    }
    if (poll(&p, 1, died ? -1 : (int)(left < 1 ? 1 : left)) <= 0)
      continue;
    r = read(fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break; /* EOF: the writer is gone */
    for (ssize_t i = 0; i < r; i++) {
      if (buf[i] != '\n') {
        if (ll < sizeof line - 1)
          line[ll++] = buf[i];
        continue;
      }
      line[ll] = '\0';
      ll = 0;
      if (strncmp(line, "ready ", 6) == 0) {
        *ready = strtoull(line + 6, NULL, 10);
        *ack_max = *ready - 1;
      } else {
        uint64_t n = strtoull(line, NULL, 10);
        if (n != *ack_max + 1)
          fprintf(stderr, "crashloop: acknowledgement %llu out of order after %llu\n",
                  (unsigned long long)n, (unsigned long long)*ack_max);
        *ack_max = n;
        (*acks)++;
      }
    }
  }
  close(fds[0]);
  if (!died)
    kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
    return 0;
  fprintf(stderr, "crashloop: the writer ended on its own (%s %d)\n",
          WIFSIGNALED(status) ? "signal" : "exit",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return -1;
}

int main(int argc, char **argv) {
  config c = {NULL, NULL, NULL, 50, 5, 400, 0, 1, 0, 0, 0, 0};
  totals t;
  uint64_t durable = 0, rng;
  long cycle;
  int i, failed;
  double t0;
  memset(&t, 0, sizeof t);
  c.seed = (uint64_t)time(NULL);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--keep") == 0) c.keep = 1;
    else if (strcmp(a, "--allow-loss") == 0) c.allow_loss = 1;
    else if (strcmp(a, "--verbose") == 0) c.verbose = 1;
    else if (v == NULL) { fprintf(stderr, "crashloop: %s needs a value\n", a); return 2; }
    else if (strcmp(a, "--db") == 0) c.db = v, i++;
    else if (strcmp(a, "--writer") == 0) c.writer = v, i++;
    else if (strcmp(a, "--shim") == 0) c.shim = v, i++;
    else if (strcmp(a, "--cycles") == 0) c.cycles = opt_long(v), i++;
    else if (strcmp(a, "--sync") == 0) c.sync = (int)opt_long(v), i++;
    else if (strcmp(a, "--seed") == 0) c.seed = strtoull(v, NULL, 10), i++;
    else if (strcmp(a, "--min-ms") == 0) c.min_ms = opt_long(v), i++;
    else if (strcmp(a, "--max-ms") == 0) c.max_ms = opt_long(v), i++;
    else if (strcmp(a, "--pace-us") == 0) c.pace_us = opt_long(v), i++;
    else { fprintf(stderr, "crashloop: unknown option %s\n", a); return 2; }
  }
  if (c.db == NULL || c.writer == NULL || c.max_ms < c.min_ms) {
    fprintf(stderr, "usage: rel_crashloop --db DIR --writer PATH [--cycles N] [--sync 0|1] "
                    "[--seed S] [--min-ms A] [--max-ms B] [--pace-us N] [--shim LIB] [--keep] "
                    "[--allow-loss] [--verbose]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  rng = c.seed;
  printf("crashloop: seed=%llu sync=%d shim=%s cycles=%ld kill after %ld..%ld ms\n",
         (unsigned long long)c.seed, c.sync, c.shim ? c.shim : "none", c.cycles, c.min_ms,
         c.max_ms);
  fflush(stdout);
  if (!c.keep)
    rel_rmtree(c.db);
  mkdir(c.db, 0755); /* exists before the shim resolves its absolute path */
  t0 = rel_now_ms();
  for (cycle = 1; cycle <= c.cycles; cycle++) {
    rel_check_result r;
    uint64_t ready, ack_max = durable, acks, lost = 0;
    double delay = (double)c.min_ms +
                   (double)(rel_rand(&rng) % (uint64_t)(c.max_ms - c.min_ms + 1));
    if (run_cycle(&c, delay, &ready, &ack_max, &acks) != 0)
      t.writer_failures++;
    if (ready == 0) {
      t.killed_before_ready++;
      ack_max = durable;
    } else if (ready != durable + 1) {
      fprintf(stderr, "crashloop: cycle %ld: writer started at %llu, expected %llu\n", cycle,
              (unsigned long long)ready, (unsigned long long)durable + 1);
      t.start_mismatch++;
    }
    t.acknowledged += acks;
    rel_check(c.db, &r);
    if (r.open_rc) {
      fprintf(stderr, "crashloop: cycle %ld: reopen failed: %s: %s\n", cycle,
              quarry_err_name(r.open_rc), r.open_msg);
      t.open_failures++;
      break; /* nothing more can be checked */
    }
    if (r.read_errors)
      fprintf(stderr, "crashloop: cycle %ld: read error: %s\n", cycle, r.read_msg);
    if (r.contiguous < durable) {
      t.lost_old += durable - r.contiguous;
      fprintf(stderr, "crashloop: cycle %ld: batches %llu..%llu of an earlier cycle are gone\n",
              cycle, (unsigned long long)r.contiguous + 1, (unsigned long long)durable);
    }
    if (ack_max > r.contiguous)
      lost = ack_max - (r.contiguous > durable ? r.contiguous : durable);
    if (lost) {
      t.cycles_with_loss++;
      if (lost > t.max_lost_in_cycle)
        t.max_lost_in_cycle = lost;
      if (!c.allow_loss)
        fprintf(stderr, "crashloop: cycle %ld: %llu acknowledged batches lost (acked up to %llu, "
                        "present up to %llu)\n", cycle, (unsigned long long)lost,
                (unsigned long long)ack_max, (unsigned long long)r.contiguous);
    }
    t.lost += lost;
    t.torn += r.torn;
    t.gaps += r.gaps;
    t.altered += r.altered;
    t.bad_last += r.bad_last;
    t.read_errors += r.read_errors;
    if (r.max_present > ack_max)
      t.unacked_present += r.max_present - ack_max;
    if (c.verbose || r.torn || r.gaps || r.altered || r.bad_last)
      printf("cycle %ld: delay %.0f ms, ready %llu, acked to %llu, present %llu (contiguous "
             "%llu), torn %llu, gaps %llu, altered %llu, bad last %llu\n",
             cycle, delay, (unsigned long long)ready, (unsigned long long)ack_max,
             (unsigned long long)r.max_present, (unsigned long long)r.contiguous,
             (unsigned long long)r.torn, (unsigned long long)r.gaps,
             (unsigned long long)r.altered, (unsigned long long)r.bad_last);
    durable = r.max_present;
  }
  failed = t.torn || t.gaps || t.altered || t.bad_last || t.open_failures || t.read_errors ||
           t.writer_failures || t.start_mismatch || t.lost_old || (!c.allow_loss && t.lost);
  printf("crashloop: seed=%llu sync=%d shim=%s cycles=%ld acknowledged=%llu lost=%llu "
         "cycles_with_loss=%llu max_lost_in_cycle=%llu torn=%llu gaps=%llu altered=%llu "
         "bad_last=%llu lost_earlier=%llu open_failures=%llu read_errors=%llu "
         "writer_failures=%llu killed_before_ready=%llu unacked_present=%llu final_batches=%llu "
         "seconds=%.1f result=%s\n",
         (unsigned long long)c.seed, c.sync, c.shim ? "yes" : "no", cycle - 1,
         (unsigned long long)t.acknowledged, (unsigned long long)t.lost,
         (unsigned long long)t.cycles_with_loss, (unsigned long long)t.max_lost_in_cycle,
         (unsigned long long)t.torn, (unsigned long long)t.gaps, (unsigned long long)t.altered,
         (unsigned long long)t.bad_last, (unsigned long long)t.lost_old,
         (unsigned long long)t.open_failures, (unsigned long long)t.read_errors,
         (unsigned long long)t.writer_failures, (unsigned long long)t.killed_before_ready,
         (unsigned long long)t.unacked_present, (unsigned long long)durable,
         (rel_now_ms() - t0) / 1000.0, failed ? "FAIL" : "PASS");
  return failed ? 1 : 0;
}

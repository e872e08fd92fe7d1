/* crashloop.c: rel_crashloop, the parent of the crash loops. Each cycle starts rel_writer, kills it
 * with SIGKILL at a random moment, reopens the database and checks it against what was
 * acknowledged: every acknowledged batch fully present, no batch torn across families, no gap,
 * no altered value, a clean open. With --shim the writer runs under an LD_PRELOAD shim (the
 * power-loss shim holds writes until fsync, so a kill also drops everything not synced).
 *
 * usage: rel_crashloop --db DIR --writer PATH [--cycles N] [--sync 0|1] [--seed S]
 *                      [--min-ms A] [--max-ms B] [--pace-us N] [--shim LIB.so] [--keep]
 *                      [--allow-loss] [--verbose] [--ckpt DIR | --backup DIR] [--every K]
 * --ckpt / --backup: the writer also takes a checkpoint (into DIR/ckpt-<batch>) or a backup (into
 * the backup directory DIR) every K batches. After each kill every checkpoint or new backup is
 * checked: an acknowledged one opens (restores) with every batch up to its own; one in flight at
 * the kill is either refused (absent, fails to open or to verify) or complete and consistent --
 * never a damaged database that opens.
 * Exit 0 when every check held; the last line is the summary. With --allow-loss, losing
 * acknowledged batches of the current cycle is counted but not a failure (sync = false under the
 * power-loss shim); losing anything from an earlier, verified cycle always is. */
#include "rel.h"

#include <dirent.h>
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
  const char *db, *writer, *shim, *ckpt, *backup;
  long cycles, min_ms, max_ms, pace_us, every;
  int sync, keep, allow_loss, verbose;
  uint64_t seed;
} config;

typedef struct {
  uint64_t acknowledged, lost, lost_old, torn, gaps, altered, bad_last, open_failures,
      read_errors, writer_failures, start_mismatch, killed_before_ready, unacked_present,
      cycles_with_loss, max_lost_in_cycle;
  uint64_t copies_acked, copies_ok, copies_refused, copies_inflight_ok, copies_bad,
      copies_corrupt_accepted;
} totals;

/* Acknowledged checkpoints/backups of the current cycle: batch number (and backup id). */
#define MAX_COPIES 4096
static uint64_t copy_batch[MAX_COPIES];
static uint32_t copy_id[MAX_COPIES];
static size_t ncopies;

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
    {
      char every[32];
      snprintf(every, sizeof every, "%ld", c->every);
      if (c->ckpt || c->backup)
        execl(c->writer, c->writer, c->db, "--sync", c->sync ? "1" : "0", "--pace-us", pace,
              c->ckpt ? "--ckpt" : "--backup", c->ckpt ? c->ckpt : c->backup, "--every", every,
              (char *)NULL);
      else
        execl(c->writer, c->writer, c->db, "--sync", c->sync ? "1" : "0", "--pace-us", pace,
              (char *)NULL);
    }
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
      if (strncmp(line, "ckpt ", 5) == 0 || strncmp(line, "backup ", 7) == 0) {
        if (ncopies < MAX_COPIES) {
          if (line[0] == 'c') {
            copy_id[ncopies] = 0;
            copy_batch[ncopies++] = strtoull(line + 5, NULL, 10);
          } else {
            char *end;
            copy_id[ncopies] = (uint32_t)strtoul(line + 7, &end, 10);
            copy_batch[ncopies++] = strtoull(end, NULL, 10);
          }
        }
      } else if (strncmp(line, "ready ", 6) == 0) {
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

/* Checks one copy (checkpoint directory or restored backup). acked_batch: 0 when it was not
 * acknowledged (in flight at the kill). */
static void check_copy(const char *dir, uint64_t acked_batch, totals *t, long cycle) {
  rel_check_result r;
  rel_check_opts(dir, 0, &r);
  if (r.open_rc) {
    if (acked_batch) {
      t->copies_bad++;
      fprintf(stderr, "crashloop: cycle %ld: acknowledged copy %s does not open: %s\n", cycle, dir,
              r.open_msg);
    } else {
      t->copies_refused++;
    }
    return;
  }
  if (r.torn || r.gaps || r.altered || r.bad_last || r.read_errors) {
    t->copies_corrupt_accepted++;
    fprintf(stderr, "crashloop: cycle %ld: copy %s opens but is damaged (torn %llu gaps %llu "
                    "altered %llu bad last %llu read errors %llu: %s)\n", cycle, dir,
            (unsigned long long)r.torn, (unsigned long long)r.gaps, (unsigned long long)r.altered,
            (unsigned long long)r.bad_last, (unsigned long long)r.read_errors, r.read_msg);
    return;
  }
  if (acked_batch && r.contiguous < acked_batch) {
    t->copies_bad++;
    fprintf(stderr, "crashloop: cycle %ld: acknowledged copy %s has batches to %llu, wanted %llu\n",
            cycle, dir, (unsigned long long)r.contiguous, (unsigned long long)acked_batch);
    return;
  }
  if (acked_batch)
    t->copies_ok++;
  else
    t->copies_inflight_ok++;
}

static uint64_t acked_copy(uint32_t id, uint64_t batch) {
  size_t i;
  for (i = 0; i < ncopies; i++)
    if ((id && copy_id[i] == id) || (!id && copy_batch[i] == batch))
      return copy_batch[i];
  return 0;
}

/* After a kill: every checkpoint directory under c->ckpt, then removes them. */
static void check_checkpoints(const config *c, totals *t, long cycle) {
  DIR *d = opendir(c->ckpt);
  struct dirent *e;
  char path[PATH_MAX];
  t->copies_acked += ncopies;
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL) {
    uint64_t n;
    char *end;
    if (strncmp(e->d_name, "ckpt-", 5) != 0)
      continue;
    n = strtoull(e->d_name + 5, &end, 10);
    snprintf(path, sizeof path, "%s/%s", c->ckpt, e->d_name);
    check_copy(path, *end == '\0' ? acked_copy(0, n) : 0, t, cycle);
    rel_rmtree(path);
  }
  closedir(d);
}

/* After a kill: every backup newer than *seen_id is verified, restored and checked. */
static void check_backups(const config *c, totals *t, long cycle, uint32_t *seen_id) {
  quarry_backups *b = NULL;
  quarry_backup_info *list = NULL;
  size_t n = 0, i, j;
  int rc;
  char scratch[PATH_MAX];
  t->copies_acked += ncopies;
  if ((rc = quarry_backups_open(c->backup, NULL, &b)) != 0) {
    if (ncopies) {
      t->copies_bad += ncopies;
      fprintf(stderr, "crashloop: cycle %ld: backup directory does not open: %s\n", cycle,
              quarry_last_error());
    }
    return;
  }
  if ((rc = quarry_backups_list(b, &list, &n)) != 0)
    n = 0;
  for (j = 0; j < ncopies; j++) { /* every acknowledged backup is listed */
    int found = 0;
    for (i = 0; i < n; i++)
      found |= list[i].id == copy_id[j];
    if (!found) {
      t->copies_bad++;
      fprintf(stderr, "crashloop: cycle %ld: acknowledged backup %u is not listed\n", cycle,
              copy_id[j]);
    }
  }
  snprintf(scratch, sizeof scratch, "%s.restore", c->backup);
  for (i = 0; i < n; i++) {
    uint64_t acked;
    if (list[i].id <= *seen_id)
      continue;
    acked = acked_copy(list[i].id, 0);
    if ((rc = quarry_backups_verify(b, list[i].id, 0)) != 0) {
      if (acked) {
        t->copies_bad++;
        fprintf(stderr, "crashloop: cycle %ld: acknowledged backup %u fails to verify: %s\n",
                cycle, list[i].id, quarry_last_error());
      } else {
        t->copies_refused++;
      }
      continue;
    }
    rel_rmtree(scratch);
    if ((rc = quarry_backups_restore(b, list[i].id, scratch, NULL)) != 0) {
      if (acked) {
        t->copies_bad++;
        fprintf(stderr, "crashloop: cycle %ld: acknowledged backup %u does not restore: %s\n",
                cycle, list[i].id, quarry_last_error());
      } else {
        t->copies_refused++;
      }
      continue;
    }
    check_copy(scratch, acked, t, cycle);
    rel_rmtree(scratch);
    *seen_id = list[i].id;
  }
  free(list);
  quarry_backups_close(b);
}

int main(int argc, char **argv) {
  config c = {NULL, NULL, NULL, NULL, NULL, 50, 5, 400, 0, 200, 1, 0, 0, 0, 0};
  uint32_t seen_backup = 0;
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
    else if (strcmp(a, "--ckpt") == 0) c.ckpt = v, i++;
    else if (strcmp(a, "--backup") == 0) c.backup = v, i++;
    else if (strcmp(a, "--every") == 0) c.every = opt_long(v), i++;
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
  if (!c.keep) {
    rel_rmtree(c.db);
    if (c.ckpt)
      rel_rmtree(c.ckpt);
    if (c.backup)
      rel_rmtree(c.backup);
  }
  if (c.ckpt)
    rel_mkdirs(c.ckpt);
  rel_mkdirs(c.db); /* exists before the shim resolves its absolute path */
  t0 = rel_now_ms();
  for (cycle = 1; cycle <= c.cycles; cycle++) {
    rel_check_result r;
    uint64_t ready, ack_max = durable, acks, lost = 0;
    double delay = (double)c.min_ms +
                   (double)(rel_rand(&rng) % (uint64_t)(c.max_ms - c.min_ms + 1));
    ncopies = 0;
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
    if (c.ckpt)
      check_checkpoints(&c, &t, cycle);
    if (c.backup)
      check_backups(&c, &t, cycle, &seen_backup);
  }
  failed = t.copies_bad || t.copies_corrupt_accepted ||
           t.torn || t.gaps || t.altered || t.bad_last || t.open_failures || t.read_errors ||
           t.writer_failures || t.start_mismatch || t.lost_old || (!c.allow_loss && t.lost);
  printf("crashloop: seed=%llu sync=%d shim=%s cycles=%ld acknowledged=%llu lost=%llu "
         "cycles_with_loss=%llu max_lost_in_cycle=%llu torn=%llu gaps=%llu altered=%llu "
         "bad_last=%llu lost_earlier=%llu open_failures=%llu read_errors=%llu "
         "writer_failures=%llu killed_before_ready=%llu unacked_present=%llu final_batches=%llu "
         "copies=%s copies_acked=%llu copies_ok=%llu copies_refused=%llu copies_inflight_ok=%llu "
         "copies_bad=%llu copies_corrupt_accepted=%llu seconds=%.1f result=%s\n",
         (unsigned long long)c.seed, c.sync, c.shim ? "yes" : "no", cycle - 1,
         (unsigned long long)t.acknowledged, (unsigned long long)t.lost,
         (unsigned long long)t.cycles_with_loss, (unsigned long long)t.max_lost_in_cycle,
         (unsigned long long)t.torn, (unsigned long long)t.gaps, (unsigned long long)t.altered,
         (unsigned long long)t.bad_last, (unsigned long long)t.lost_old,
         (unsigned long long)t.open_failures, (unsigned long long)t.read_errors,
         (unsigned long long)t.writer_failures, (unsigned long long)t.killed_before_ready,
         (unsigned long long)t.unacked_present, (unsigned long long)durable,
         c.ckpt ? "checkpoint" : c.backup ? "backup" : "none", (unsigned long long)t.copies_acked,
         (unsigned long long)t.copies_ok, (unsigned long long)t.copies_refused,
         (unsigned long long)t.copies_inflight_ok, (unsigned long long)t.copies_bad,
         (unsigned long long)t.copies_corrupt_accepted, (rel_now_ms() - t0) / 1000.0, failed ? "FAIL" : "PASS");
  return failed ? 1 : 0;
}

/* test_check.c: the C tests' runner itself (check.h). Demonstration cases, some failing on
 * purpose, run in a child process through check_run; each case here asserts the child's exit
 * status and what it printed: a failed check names its file, line and case with both values and
 * ends only that case, the others still run, the summary counts them and the exit status is 1; a
 * database left open or closed with live children fails its case; a failed check in another
 * thread or a forked process aborts instead of returning into the runner. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static const char *demo_dir; /* the parent case's directory, for the demonstrations' databases */

static void demo_passes(void) {
  CHECK_EQ_INT(2 + 2, 4);
  CHECK_STR("abc", "abc");
  printf("demo_passes ran to its end\n");
}

enum { DEMO_FAIL_LINE = __LINE__ + 4 }; /* the line of the failing check below */

static void demo_fails(void) {
  int got = 41;
  CHECK_EQ_INT(got, 42);
  printf("demo_fails: not reached\n");
}

static void demo_runs_after(void) { printf("demo_runs_after ran\n"); }

static void demo_leaves_db_open(void) {
  quarry_db *db;
  CHECK_OK(quarry_db_open(check_path(1, demo_dir, "left-open"), NULL, &db));
}

static void demo_closes_with_child(void) {
  quarry_db *db;
  quarry_iter *it;
  CHECK_OK(quarry_db_open(check_path(1, demo_dir, "child"), NULL, &db));
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
  CHECK_OK(quarry_db_close(db));
  printf("demo_closes_with_child: not reached\n");
}

static void demo_allows_children(void) {
  quarry_db *db;
  quarry_iter *it;
  CHECK_OK(quarry_db_open(check_path(1, demo_dir, "allowed"), NULL, &db));
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
  CHECK_ALLOW_LIVE_CHILDREN();
  CHECK_OK(quarry_db_close(db));
  quarry_iter_close(it);
}

static void *failing_thread(void *arg) {
  (void)arg;
  CHECK_EQ_INT(1, 2);
  return NULL;
}

static void demo_thread_fails(void) {
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, failing_thread, NULL), 0);
  CHECK_EQ_INT(pthread_join(t, NULL), 0);
  printf("demo_thread_fails: not reached\n");
}

static void demo_fork_fails(void) {
  int status;
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    CHECK(!"a failed check in a forked child");
    _exit(0); /* not reached: the child aborts */
  }
  CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  printf("demo_fork_fails: the forked child aborted\n");
}

static const check_case demos[] = {
    {"demo_passes", __FILE__, __LINE__, demo_passes},
    {"demo_fails", __FILE__, __LINE__, demo_fails},
    {"demo_leaves_db_open", __FILE__, __LINE__, demo_leaves_db_open},
    {"demo_closes_with_child", __FILE__, __LINE__, demo_closes_with_child},
    {"demo_allows_children", __FILE__, __LINE__, demo_allows_children},
    {"demo_thread_fails", __FILE__, __LINE__, demo_thread_fails},
    {"demo_fork_fails", __FILE__, __LINE__, demo_fork_fails},
    {"demo_runs_after", __FILE__, __LINE__, demo_runs_after},
};
#define N_DEMOS ((int)(sizeof demos / sizeof demos[0]))

/* Runs the named demonstrations through check_run (which runs them in the table's order) in a
 * child process; returns its wait status, with everything it printed in out. */
static int run_demos(int nnames, char **names, char *out, size_t cap) {
  int fd[2], status;
  size_t used = 0;
  ssize_t r;
  pid_t pid;
  CHECK_EQ_INT(pipe(fd), 0);
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    dup2(fd[1], 1);
    dup2(fd[1], 2);
    close(fd[0]);
    close(fd[1]);
    _exit(check_run(demos, N_DEMOS, nnames, names));
  }
  close(fd[1]);
  while (used + 1 < cap && (r = read(fd[0], out + used, cap - 1 - used)) > 0)
    used += (size_t)r;
  out[used] = '\0';
  close(fd[0]);
  CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
  { /* shown indented, so that its summary is not taken for this file's */
    const char *p = out, *nl;
    printf("  the demonstration printed (status %d):\n", status);
    for (; *p; p = nl + 1) {
      nl = strchr(p, '\n');
      if (nl == NULL)
        nl = p + strlen(p) - 1;
      printf("  | %.*s\n", (int)(nl - p), p);
    }
  }
  return status;
}

static const char *after(const char *hay, const char *before) {
  return before ? strstr(hay, before) : hay;
}

/* needle occurs in hay, after the first occurrence of before (NULL: anywhere). */
#define CHECK_AFTER(hay, before, needle)                                                       \
  do {                                                                                         \
    const char *b_ = after((hay), (before));                                                   \
    CHECK(b_ != NULL);                                                                         \
    CHECK_CONTAINS(b_, (needle));                                                              \
  } while (0)

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

TEST(failed_check_ends_only_its_case) {
  const char *dir = check_tmpdir(0, "check");
  char out[8192], line[256];
  char *names[] = {"demo_passes",         "demo_fails",           "demo_leaves_db_open",
                   "demo_closes_with_child", "demo_allows_children", "demo_runs_after"};
  int status;
  demo_dir = dir;
  status = run_demos(6, names, out, sizeof out);
  CHECK_EQ_INT(exit_code(status), 1);
  snprintf(line, sizeof line, "test_check.c:%d: case demo_fails: got == 42: 41 != 42\n",
           DEMO_FAIL_LINE);
  CHECK_CONTAINS(out, line);
  CHECK(strstr(out, "not reached") == NULL);
  CHECK_AFTER(out, NULL, "demo_passes ran to its end\nok   demo_passes\n");
  CHECK_AFTER(out, "ok   demo_passes\n", "FAIL demo_fails\n");
  CHECK_AFTER(out, "FAIL demo_fails\n", "FAIL demo_leaves_db_open\n");
  CHECK_AFTER(out, "FAIL demo_leaves_db_open\n", "FAIL demo_closes_with_child\n");
  CHECK_AFTER(out, "FAIL demo_closes_with_child\n", "ok   demo_allows_children\n");
  CHECK_AFTER(out, "ok   demo_allows_children\n",
              "demo_runs_after ran\nok   demo_runs_after\n6 cases, 3 failed\n");
  check_rmrf(dir);
}

TEST(passing_cases_exit_zero) {
  char out[4096], *names[] = {"demo_runs_after", "demo_passes"};
  int status = run_demos(2, names, out, sizeof out);
  CHECK_EQ_INT(exit_code(status), 0);
  /* in the table's order, whatever the order of the names */
  CHECK_AFTER(out, "ok   demo_passes\n", "ok   demo_runs_after\n2 cases, 0 failed\n");
  CHECK(strstr(out, "demo_fails") == NULL);
}

TEST(unknown_case_name) {
  char out[4096], *names[] = {"demo_passes", "no_such_case"};
  int status = run_demos(2, names, out, sizeof out);
  CHECK_EQ_INT(exit_code(status), 2);
  CHECK_CONTAINS(out, "no case named 'no_such_case'; the cases are: demo_passes demo_fails");
  CHECK(strstr(out, "demo_passes ran") == NULL); /* nothing runs */
}

TEST(database_left_open_fails_its_case) {
  const char *dir = check_tmpdir(0, "check");
  char out[4096], *names[] = {"demo_leaves_db_open", "demo_runs_after"};
  int status;
  demo_dir = dir;
  status = run_demos(2, names, out, sizeof out);
  CHECK_EQ_INT(exit_code(status), 1);
  CHECK_CONTAINS(out, "case demo_leaves_db_open: ");
  CHECK_CONTAINS(out, "/left-open left open (0 iterators, 0 snapshots, 0 batches)\n");
  CHECK_AFTER(out, "FAIL demo_leaves_db_open\n", "ok   demo_runs_after\n2 cases, 1 failed\n");
  /* the runner closed it: the database can be destroyed */
  CHECK_OK(quarry_destroy(check_path(1, dir, "left-open")));
  check_rmrf(dir);
}

TEST(close_with_live_children_fails_its_case) {
  const char *dir = check_tmpdir(0, "check");
  char out[4096], *names[] = {"demo_closes_with_child", "demo_allows_children"};
  int status;
  demo_dir = dir;
  status = run_demos(2, names, out, sizeof out);
  CHECK_EQ_INT(exit_code(status), 1);
  CHECK_CONTAINS(out, "case demo_closes_with_child: closing ");
  CHECK_CONTAINS(out, "/child with live children: 1 iterators, 0 snapshots, 0 batches\n");
  CHECK(strstr(out, "not reached") == NULL);
  CHECK_AFTER(out, "FAIL demo_closes_with_child\n",
              "ok   demo_allows_children\n2 cases, 1 failed\n");
  check_rmrf(dir);
}

TEST(failed_check_in_a_thread_aborts) {
  char out[4096], *names[] = {"demo_thread_fails", "demo_runs_after"};
  int status = run_demos(2, names, out, sizeof out);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  CHECK_CONTAINS(out, "test_check.c:");
  CHECK_CONTAINS(out, ": case demo_thread_fails: 1 == 2: 1 != 2\n");
  CHECK_CONTAINS(out, "aborting");
  CHECK(strstr(out, "demo_runs_after ran") == NULL);
}

TEST(failed_check_in_a_forked_child_aborts) {
  char out[4096], *names[] = {"demo_fork_fails", "demo_runs_after"};
  int status = run_demos(2, names, out, sizeof out);
  const char *first;
  CHECK_EQ_INT(exit_code(status), 0);
  CHECK_CONTAINS(out, "case demo_fork_fails: check failed: !\"a failed check in a forked child\"");
  CHECK_CONTAINS(out, "demo_fork_fails: the forked child aborted\nok   demo_fork_fails\n");
  /* the child did not go on with the runner's next case */
  first = strstr(out, "demo_runs_after ran");
  CHECK(first != NULL && strstr(first + 1, "demo_runs_after ran") == NULL);
  CHECK_CONTAINS(out, "2 cases, 0 failed\n");
}

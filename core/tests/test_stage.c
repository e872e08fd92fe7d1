/* test_stage.c: the private staging directories of checkpoints and restores (core/src/files.c).
 * A process that dies mid-way (here: a child that stages and _exits, which releases its locks
 * exactly as SIGKILL does) leaves its stage; the next checkpoint or restore beside it removes it.
 * A stage still in use, another user's directory, a link named like a stage and a stage without
 * an owner file are left alone. A restore killed between moving the old database aside and
 * renaming the new one in gets the old database back. */
#include "check.h"
#include "../src/files.h"

#include <signal.h>
#include <sys/wait.h>

/* Names under dir starting with prefix. */
static int count_prefixed(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
      n++;
  closedir(d);
  return n;
}

static int exists(const char *path) {
  struct stat s;
  return lstat(path, &s) == 0;
}

static void write_small(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
}

/* A child stages under prefix, puts a file in its inner directory (and, with replaced, a
 * "replaced" directory holding a file), then dies without cleaning up. */
static void stage_and_die(const char *prefix, int replaced) {
  pid_t pid = fork();
  int status;
  CHECK(pid >= 0);
  if (pid == 0) {
    q_stage st;
    char p[2 * PATH_MAX];
    if (q_stage_open(prefix, "db", &st) != 0 || mkdir(st.inner, 0755) != 0)
      _exit(2);
    snprintf(p, sizeof p, "%s/CURRENT", st.inner);
    write_small(p, "new\n");
    if (replaced) {
      snprintf(p, sizeof p, "%s/replaced", st.dir);
      if (mkdir(p, 0755) != 0)
        _exit(3);
      snprintf(p, sizeof p, "%s/replaced/CURRENT", st.dir);
      write_small(p, "old\n");
    }
    _exit(0);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(stale_stage_removed_live_one_kept) {
  const char *dir = check_tmpdir(0, "stage");
  char prefix[PATH_MAX], ready;
  int to_child[2], from_child[2], status;
  pid_t live;
  snprintf(prefix, sizeof prefix, "%s/t.restoring-", dir);
  stage_and_die(prefix, 0);
  stage_and_die(prefix, 0);
  CHECK_EQ_INT(2, count_prefixed(dir, "t.restoring-"));
  /* a live stage: a child that holds its stage until told to go */
  CHECK(pipe(to_child) == 0 && pipe(from_child) == 0);
  live = fork();
  CHECK(live >= 0);
  if (live == 0) {
    q_stage st;
    char c;
    if (q_stage_open(prefix, "db", &st) != 0)
      _exit(2);
    if (write(from_child[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
      _exit(3);
    q_stage_close(&st);
    _exit(0);
  }
  CHECK(read(from_child[0], &ready, 1) == 1);
  CHECK_EQ_INT(3, count_prefixed(dir, "t.restoring-"));
  CHECK_EQ_INT(2, q_stage_sweep(prefix, NULL, NULL));
  CHECK_EQ_INT(1, count_prefixed(dir, "t.restoring-")); /* the live one */
  CHECK_EQ_INT(0, q_stage_sweep(prefix, NULL, NULL));
  CHECK(write(to_child[1], "g", 1) == 1);
  CHECK(waitpid(live, &status, 0) == live);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_EQ_INT(0, count_prefixed(dir, "t.restoring-")); /* it cleaned up itself */
  close(to_child[0]), close(to_child[1]), close(from_child[0]), close(from_child[1]);
}

TEST(a_stage_of_this_process_is_live_too) {
  const char *dir = check_tmpdir(0, "stage");
  char prefix[PATH_MAX];
  q_stage st;
  snprintf(prefix, sizeof prefix, "%s/.quarry-checkpoint.", dir);
  CHECK(q_stage_open(prefix, "cp", &st) == 0);
  CHECK_EQ_INT(0, q_stage_sweep(prefix, NULL, NULL)); /* another thread's sweep: not stale */
  CHECK(exists(st.dir));
  CHECK_EQ_INT(0, q_stage_close(&st));
  CHECK_EQ_INT(0, count_prefixed(dir, ".quarry-checkpoint."));
  CHECK_EQ_INT(0, q_stage_close(&st)); /* twice: nothing */
}

TEST(others_links_and_unowned_stages_left_alone) {
  const char *dir = check_tmpdir(0, "stage");
  const char *victim = check_tmpdir(1, "stage-victim");
  char prefix[PATH_MAX], p[2 * PATH_MAX];
  snprintf(prefix, sizeof prefix, "%s/t.restoring-", dir);
  /* a link named like a stage, to a directory with a file: neither followed nor removed */
  write_small(check_path(0, victim, "keep"), "x");
  snprintf(p, sizeof p, "%sLINKED", prefix);
  CHECK(symlink(victim, p) == 0);
  /* a stage made before owner files: no owner file, kept */
  snprintf(p, sizeof p, "%sOLDONE", prefix);
  CHECK(mkdir(p, 0700) == 0);
  /* another user's stale stage (needs root to make): kept */
  stage_and_die(prefix, 0);
  if (geteuid() == 0) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      struct stat s;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      if (strncmp(e->d_name, "t.restoring-", 12) == 0 && lstat(p, &s) == 0 &&
          S_ISDIR(s.st_mode) && strcmp(e->d_name + 12, "OLDONE") != 0)
        CHECK(lchown(p, 65534, 65534) == 0);
    }
    closedir(d);
    CHECK_EQ_INT(0, q_stage_sweep(prefix, NULL, NULL));
    CHECK_EQ_INT(3, count_prefixed(dir, "t.restoring-"));
  } else {
    CHECK_EQ_INT(1, q_stage_sweep(prefix, NULL, NULL)); /* ours: removed */
    CHECK_EQ_INT(2, count_prefixed(dir, "t.restoring-"));
  }
  CHECK(exists(check_path(0, victim, "keep")));
}

TEST(restore_killed_between_renames_gets_the_old_database_back) {
  const char *dir = check_tmpdir(0, "stage");
  char prefix[2 * PATH_MAX], target[PATH_MAX], buf[16] = { 0 };
  FILE *f;
  snprintf(target, sizeof target, "%s/t", dir);
  snprintf(prefix, sizeof prefix, "%s.restoring-", target);
  /* the target was moved aside into the stage, the new one not yet in: put back */
  stage_and_die(prefix, 1);
  CHECK(!exists(target));
  CHECK_EQ_INT(1, q_stage_sweep(prefix, "replaced", target));
  f = fopen(check_path(0, target, "CURRENT"), "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  CHECK_STR("old\n", buf);
  CHECK_EQ_INT(0, count_prefixed(dir, "t.restoring-"));
  /* the new one was in place already: the stage's copy is the old database, dropped */
  stage_and_die(prefix, 1);
  CHECK_EQ_INT(1, q_stage_sweep(prefix, "replaced", target));
  f = fopen(check_path(0, target, "CURRENT"), "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  CHECK_STR("old\n", buf); /* what was there, untouched */
  CHECK_EQ_INT(0, count_prefixed(dir, "t.restoring-"));
}

TEST(next_checkpoint_removes_a_killed_ones_stage) {
  const char *dir = check_tmpdir(0, "stage");
  char prefix[PATH_MAX];
  quarry_options *o;
  quarry_db *db;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_db_open(check_path(0, dir, "src"), o, &db));
  quarry_options_free(o);
  PUT(db, NULL, "k", "v");
  snprintf(prefix, sizeof prefix, "%s/.quarry-checkpoint.", dir);
  stage_and_die(prefix, 0);
  CHECK_EQ_INT(1, count_prefixed(dir, ".quarry-checkpoint."));
  CHECK_OK(quarry_db_checkpoint(db, check_path(1, dir, "cp")));
  CHECK_EQ_INT(0, count_prefixed(dir, ".quarry-checkpoint."));
  CHECK_OK(quarry_db_close(db));
}

/* The output directory of `barlow run`: built under a temporary name next
 * to it, then swapped into place, so that a report is either the previous
 * complete one or the new complete one, never half of each; and the
 * results of the previous run that are still valid are reused.
 *
 * A run directory holds a file ".barlow-run" with one "name key" line per
 * cached result (the key says which inputs and options made it). An
 * existing directory without that file is never touched unless it is
 * empty. */
#ifndef BARLOW_CLI_RUN_DIR_H
#define BARLOW_CLI_RUN_DIR_H

#include <stdbool.h>

#include "sbuf.h"

typedef struct run_dir {
    char *final;   /* DIR as given */
    char *stage;   /* the directory being built: <parent>/.<name>.tmp-XXXXXX */
    char *old;     /* the previous run's ".barlow-run" text, or NULL (none, --force) */
    sbuf keys;     /* the keys of this run, written by run_dir_commit */
} run_dir;

/* Checks DIR (not a symbolic link; absent, an empty directory, or a
 * previous run's directory; its parent exists and is writable), creates
 * the staging directory and reads the previous keys unless `force`.
 * Returns CLI_OK or CLI_ERROR with cli_set_error naming the path. */
int run_dir_open(run_dir *d, const char *dir, bool force);

/* stage/rel, or final/rel (old = true), as a new string; NULL on OOM. */
char *run_dir_path(const run_dir *d, const char *rel, bool old);

/* Creates stage/rel as a directory. CLI_OK or CLI_ERROR. */
int run_dir_mkdir(const run_dir *d, const char *rel);

/* Records this run's key for `name`, and returns true when the previous
 * run recorded the same key and its file(s) `rel` (NULL: nothing to carry)
 * could be carried into the staging directory (hard link, else copy). */
bool run_dir_reuse(run_dir *d, const char *name, const char *key, const char *rel);

/* Carries the previous run's file rel into the staging directory (a hard
 * link, else a copy); false when it is missing or not a regular file. */
bool run_dir_carry(const run_dir *d, const char *rel);

/* Records a key without reuse (the result was computed afresh). */
void run_dir_set_key(run_dir *d, const char *name, const char *key);

/* Writes ".barlow-run" and puts the staging directory in DIR's place
 * (renameat2 RENAME_EXCHANGE, then the previous directory is removed).
 * CLI_OK or CLI_ERROR (the previous DIR is then unchanged). */
int run_dir_commit(run_dir *d);

/* Removes the staging directory (when not committed) and frees *d. */
void run_dir_close(run_dir *d);

/* Appends "label=<path>:<size>:<mtime>:<inode>;" for an input file or
 * directory (a path that cannot be stat'ed: "label=<path>:missing;").
 * Control characters in the path are written as %XX. */
void run_fingerprint(sbuf *key, const char *label, const char *path);

#endif

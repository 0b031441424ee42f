/* A scratch directory for one C test program (include after tap.h):
 *
 *   tmp_dir_create("image");   makes /tmp/barlow-test-image-XXXXXX, or skips
 *                              the whole program when it cannot
 *   tmp_path("a.png")          a path in it (8 rotating buffers)
 *   tmp_dir_remove();          deletes it and everything in it
 *   msg_has("needle")          barlow_last_error() contains needle
 */
#ifndef BARLOW_TEST_TMPDIR_H
#define BARLOW_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/common.h"

static char tmpdir[256];

static inline const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static inline void tmp_dir_create(const char *name)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/barlow-test-%s-XXXXXX", name);
    if (!mkdtemp(tmpdir)) TAP_SKIP_ALL("cannot create a temporary directory");
}

static inline void tmp_dir_remove(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
}

static inline int msg_has(const char *s) { return strstr(barlow_last_error(), s) != NULL; }

#endif /* BARLOW_TEST_TMPDIR_H */

/* Library-wide services: version, status text, thread-local errors, options
 * version checks, bw_parallel_for (determinism, errors, cancel), atomic
 * files, the string builder. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"

static int square_item(void *ctx, size_t i, size_t worker)
{
    (void)worker;
    double *out = ctx;
    out[i] = (double)i * (double)i + 0.5;
    return 0;
}

static int fail_item(void *ctx, size_t i, size_t worker)
{
    (void)ctx;
    (void)worker;
    return (i == 37 || i == 80) ? (int)i : 0;
}

static int cancel_at(size_t done, size_t total, void *user)
{
    (void)total;
    size_t *calls = user;
    (*calls)++;
    return done >= 10;
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* A message set here must not be visible from the main thread. */
    bw_error(BARLOW_E_IO, "set on another thread");
    return (void *)(strcmp(barlow_last_error(), "set on another thread") == 0 ? "ok" : NULL);
}

int main(void)
{
    TAP_OK(strcmp(barlow_version_string(), BARLOW_VERSION_STRING) == 0,
           "run-time version %s matches the header", barlow_version_string());
    TAP_OK(barlow_version_number() == BARLOW_VERSION_NUMBER, "version number");
    TAP_OK(strcmp(barlow_status_str(BARLOW_E_INVALID_ARG), "invalid argument") == 0,
           "status text");
    TAP_OK(strcmp(barlow_status_str((barlow_status)-99), "unknown status") == 0,
           "unknown status text");
    TAP_OK(barlow_dtype_size(BARLOW_DTYPE_FLOAT64) == 8 && barlow_dtype_size((barlow_dtype)42) == 0,
           "dtype sizes");
    TAP_OK(strcmp(barlow_dtype_name(BARLOW_DTYPE_BOOL), "bool") == 0, "dtype names");
    TAP_OK(barlow_cpu_count() >= 1, "cpu count %zu", barlow_cpu_count());

    /* errors */
    TAP_OK(barlow_last_error()[0] == '\0', "no message at start");
    barlow_status st = bw_error(BARLOW_E_FORMAT, "barlow_x: row %d", 7);
    TAP_OK(st == BARLOW_E_FORMAT && strcmp(barlow_last_error(), "barlow_x: row 7") == 0,
           "bw_error sets the message and returns the status");
    bw_error_prefix(st, "file.npy");
    TAP_OK(strcmp(barlow_last_error(), "file.npy: barlow_x: row 7") == 0, "prefix");
    pthread_t t;
    void *res = NULL;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &res);
    TAP_OK(res != NULL && strcmp(barlow_last_error(), "file.npy: barlow_x: row 7") == 0,
           "messages are thread-local");
    bw_clear_error();
    TAP_OK(barlow_last_error()[0] == '\0', "clear");
    TAP_OK(bw_check_options_version(0, 1, "f: opts") == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "f: opts") != NULL,
           "options version 0 rejected naming the struct");
    TAP_OK(bw_check_options_version(2, 1, "f: opts") == BARLOW_E_INVALID_ARG,
           "future options version rejected");
    TAP_OK(bw_check_options_version(1, 1, "f: opts") == BARLOW_OK, "current version ok");
    barlow_buffer_free(NULL);
    barlow_buffer b = {malloc(4), 4};
    barlow_buffer_free(&b);
    TAP_OK(b.data == NULL && b.size == 0, "buffer dispose resets");

    /* parallel_for: same result for any thread count */
    enum { N = 1000 };
    static double a1[N], a4[N];
    TAP_OK(bw_parallel_for(N, 1, square_item, a1, NULL, NULL) == 0, "parallel_for 1 thread");
    TAP_OK(bw_parallel_for(N, 4, square_item, a4, NULL, NULL) == 0, "parallel_for 4 threads");
    TAP_OK(memcmp(a1, a4, sizeof a1) == 0, "identical results for 1 and 4 threads");
    int rc = bw_parallel_for(200, 1, fail_item, NULL, NULL, NULL);
    TAP_OK(rc == 37, "first failing item's code is returned (%d)", rc);
    size_t calls = 0;
    rc = bw_parallel_for(N, 2, square_item, a4, cancel_at, &calls);
    TAP_OK(rc == BARLOW_E_CANCELLED && calls >= 1, "progress cancel → CANCELLED (%d)", rc);

    /* atomic files */
    char dir[] = "/tmp/barlow-test-XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL, "temp dir");
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    bw_atomic_file af;
    TAP_OK(bw_atomic_open(&af, path, "t") == BARLOW_OK, "atomic open");
    fputs("hello", af.fp);
    TAP_OK(access(path, F_OK) != 0, "nothing at the final path before commit");
    TAP_OK(bw_atomic_commit(&af, "t") == BARLOW_OK, "commit");
    struct stat sbuf;
    mode_t mask = umask(022);
    umask(mask);
    TAP_OK(stat(path, &sbuf) == 0 && (sbuf.st_mode & 0777) == (0666 & ~mask),
           "committed file has mode 0666 & ~umask (%o)", (unsigned)(sbuf.st_mode & 0777));
    char *data = NULL;
    size_t size = 0;
    TAP_OK(bw_read_file(path, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size) == BARLOW_OK && size == 5 &&
               strcmp(data, "hello") == 0,
           "read back");
    free(data);
    snprintf(path, sizeof path, "%s/aborted.txt", dir);
    TAP_OK(bw_atomic_open(&af, path, "t") == BARLOW_OK, "atomic open 2");
    bw_atomic_abort(&af);
    TAP_OK(access(path, F_OK) != 0, "abort leaves nothing");
    snprintf(path, sizeof path, "%s/missing/x.txt", dir);
    st = bw_atomic_open(&af, path, "t");
    TAP_OK(st == BARLOW_E_IO && strstr(barlow_last_error(), "missing/x.txt"),
           "missing directory: IO naming the path (%s)", barlow_last_error());
    bw_sb sv;
    bw_sb_init(&sv);
    bw_sb_append(&sv, "saved\n");
    snprintf(path, sizeof path, "%s/saved.txt", dir);
    TAP_OK(bw_sb_save(&sv, path, "t") == BARLOW_OK && bw_read_file(path, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size) == BARLOW_OK &&
               size == 6 && strcmp(data, "saved\n") == 0,
           "bw_sb_save writes the text");
    free(data);
    bw_sb_init(&sv);
    bw_sb_append(&sv, "x");
    snprintf(path, sizeof path, "%s/missing/saved.txt", dir);
    TAP_OK(bw_sb_save(&sv, path, "t") == BARLOW_E_IO && strstr(barlow_last_error(), "missing/saved.txt"),
           "bw_sb_save into a missing directory: IO naming the path");
    snprintf(path, sizeof path, "rm -rf %s", dir);
    TAP_OK(system(path) == 0, "cleanup");

    /* string builder / JSON */
    bw_sb sb;
    bw_sb_init(&sb);
    bw_sb_json_string(&sb, "a\"b\\c\n\x01");
    bw_sb_append(&sb, " ");
    bw_sb_json_double(&sb, 0.1);
    bw_sb_append(&sb, " ");
    bw_sb_json_double(&sb, 1.0 / 3.0);
    bw_sb_append(&sb, " ");
    bw_sb_json_double(&sb, 0.0 / 0.0);
    barlow_buffer out;
    TAP_OK(bw_sb_finish(&sb, &out, "t") == BARLOW_OK, "finish");
    TAP_OK(strcmp(out.data, "\"a\\\"b\\\\c\\n\\u0001\" 0.1 0.3333333333333333 null") == 0,
           "json text: %s", (char *)out.data);
    barlow_buffer_free(&out);

    /* JSON text is valid whatever the bytes; UTF-8 checks (RFC 3629) */
    static const struct {
        const char *in, *json;
    } js[] = {
        {"a\xff" "b", "\"a\\udcffb\""},
        {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x9f \xf4\x8f\xbf\xbf",
         "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x9f \xf4\x8f\xbf\xbf\""},
        {"\x7f\x1f", "\"\\u007f\\u001f\""},
        {"\xc0\xaf", "\"\\udcc0\\udcaf\""},             /* overlong '/' */
        {"x\xed\xa0\x80", "\"x\\udced\\udca0\\udc80\""}, /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\""}, /* above U+10FFFF */
        {"ab\xe6\x97", "\"ab\\udce6\\udc97\""},          /* truncated at the end */
        {"\xe6\x97\"", "\"\\udce6\\udc97\\\"\""},        /* truncated before a quote */
    };
    for (size_t k = 0; k < sizeof js / sizeof js[0]; k++) {
        bw_sb_init(&sb);
        bw_sb_json_string(&sb, js[k].in);
        st = bw_sb_finish(&sb, &out, "t");
        TAP_OK(st == BARLOW_OK && !strcmp(out.data, js[k].json), "json string %zu: %s", k,
               (char *)out.data);
        barlow_buffer_free(&out);
    }
    static const struct {
        const char *s;
        size_t want;
    } u8[] = {
        {"plain", 5},  {"caf\xc3\xa9", 5},     {"\xf0\x9f\x90\x9f", 4}, {"a\xff\xfe", 1},
        {"\xc0\xaf", 0}, {"\xc1\xbf", 0},      {"\xe0\x80\xaf", 0},     {"\xf0\x80\x80\xaf", 0},
        {"ok\xed\xa0\x80", 2}, {"\xed\x9f\xbf", 3}, {"\xee\x80\x80", 3}, {"\xf4\x90\x80\x80", 0},
        {"\xf5\x80\x80\x80", 0}, {"\x80", 0},  {"ab\xe6\x97", 2},       {"\xe6\x97" "a", 0},
    };
    for (size_t k = 0; k < sizeof u8 / sizeof u8[0]; k++)
        TAP_OK(bw_utf8_check(u8[k].s, strlen(u8[k].s)) == u8[k].want, "bw_utf8_check %zu: %zu", k,
               bw_utf8_check(u8[k].s, strlen(u8[k].s)));
    TAP_OK(bw_utf8_check("a\0b", 3) == 3, "bw_utf8_check: NUL is valid UTF-8");
    return tap_done();
}

/* libFuzzer target over the .npz reader (lib/npz.c: zip directory, stored
 * and deflated members, CRC-32) and the sharded feature store's manifest
 * reader (lib/shards.c, lib/shards_map.c). Each input is written to a
 * scratch file, read as an .npz (members "features", "labels" and one that
 * no archive holds) and, written again as manifest.json, given to
 * barlow_manifest_probe, barlow_matrix_open_manifest and
 * barlow_array_load_manifest. Shard paths in a manifest are relative to the
 * scratch directory, where "in.npz" (this same input) is the only file: the
 * point is the parser and its checks. Invariants: a member that loads has
 * a consistent shape, a missing member is INVALID_ARG, a refusal leaves a
 * message and no result. Built by tests/fuzz/run npz; the corpus is
 * tests/fuzz/npz/. */
#include "barlow/matrix.h"
#include "barlow/shards.h"
#include "fuzz_util.h"

static void read_member(const char *path, const char *name)
{
    barlow_array *a = NULL;
    barlow_matrix *m = NULL;
    barlow_status st = barlow_array_load_npz(path, name, &a);
    fuzz_check_failure(st, a);
    size_t prod = 1;
    for (size_t k = 0; k < barlow_array_ndim(a); k++) prod *= barlow_array_dim(a, k);
    fuzz_check(st != BARLOW_OK || prod == barlow_array_size(a));
    barlow_status ms = barlow_matrix_load_npz(path, name, &m);
    fuzz_check_failure(ms, m);
    fuzz_check(ms != BARLOW_OK || (st == BARLOW_OK && barlow_matrix_rows(m) > 0 &&
                                   barlow_matrix_rows(m) * barlow_matrix_cols(m) == prod));
    barlow_matrix_free(m);
    barlow_array_free(a);
}

static void read_manifest(const char *path)
{
    int is = barlow_manifest_probe(path);
    fuzz_check(is == 0 || is == 1);
    barlow_matrix *m = NULL;
    barlow_status st = barlow_matrix_open_manifest(path, &m);
    fuzz_check_failure(st, m);
    fuzz_check(st != BARLOW_OK || (is && barlow_matrix_rows(m) > 0));
    barlow_matrix_free(m);
    static const char *const members[] = {"labels", "index", "status"};
    for (size_t k = 0; k < 3; k++) {
        barlow_array *a = NULL;
        st = barlow_array_load_manifest(path, members[k], &a);
        fuzz_check_failure(st, a);
        barlow_array_free(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (fuzz_write("in.npz", data, size, path, sizeof path) != 0) return 0;
    read_member(path, "features");
    read_member(path, "labels.npy");
    barlow_array *a = NULL;
    barlow_status st = barlow_array_load_npz(path, "no_such_member", &a);
    fuzz_check_failure(st, a);
    fuzz_check(st != BARLOW_OK);
    if (fuzz_write("manifest.json", data, size, path, sizeof path) == 0) read_manifest(path);
    return 0;
}

/* barlow_dataset and barlow_group through the public API: arrays, .npy,
 * the metadata CSV (RFC 4180 quoting, CRLF, BOM, column order, extra
 * columns, NUL bytes, UTF-8 class names), groups and their failure
 * statistics, every error path (status, message, out-parameters
 * untouched), and the reference sample's figures
 * (../shared/data/barlow-sample/metadata.csv, skipped when absent). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "tap.h"

static char tmpdir[] = "/tmp/barlow-test-dataset-XXXXXX";
static char sentinel_storage;
#define SENTINEL_DS ((barlow_dataset *)(void *)&sentinel_storage)
#define SENTINEL_G ((barlow_group *)(void *)&sentinel_storage)

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static const char *write_file(const char *name, const char *text, size_t len)
{
    const char *p = tmp_path(name);
    FILE *fp = fopen(p, "wb");
    if (!fp) {
        printf("Bail out! cannot write %s\n", p);
        exit(1);
    }
    fwrite(text, 1, len, fp);
    fclose(fp);
    return p;
}
#define WRITE(name, lit) write_file(name, lit, sizeof(lit) - 1)

/* The status is `want`, the message starts with `fn` and contains `part`
 * (and `part2` when not NULL). */
static int err_is(barlow_status st, barlow_status want, const char *fn, const char *part,
                  const char *part2)
{
    const char *m = barlow_last_error();
    int ok = st == want && strncmp(m, fn, strlen(fn)) == 0 && strstr(m, part) != NULL &&
             (!part2 || strstr(m, part2) != NULL);
    if (!ok) printf("#   status %d (want %d), message: %s\n", (int)st, (int)want, m);
    return ok;
}

/* ---- arrays ---------------------------------------------------------------- */

static void test_arrays(void)
{
    const int32_t labels[] = {0, 1, 1, 2, 1};
    const int32_t preds[] = {0, 2, 1, 2, 0};
    const char *names[] = {"cat", "dog", "bird, small"};
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_create(5, labels, preds, names, 3, &ds);
    TAP_OK(st == BARLOW_OK && ds, "create from arrays");
    TAP_OK(barlow_dataset_size(ds) == 5 && barlow_dataset_class_count(ds) == 3, "size, classes");
    TAP_OK(!strcmp(barlow_dataset_class_name(ds, 2), "bird, small") &&
               barlow_dataset_class_name(ds, 3) == NULL &&
               barlow_dataset_class_name(ds, -1) == NULL,
           "class names by id; out of range gives NULL");
    int32_t id = -7;
    TAP_OK(barlow_dataset_class_id(ds, "dog", &id) == BARLOW_OK && id == 1, "class id by name");
    TAP_OK(barlow_dataset_labels(ds) && !memcmp(barlow_dataset_labels(ds), labels, sizeof labels),
           "labels copied");
    TAP_OK(barlow_dataset_labels(ds) != labels, "labels are the dataset's own copy");
    TAP_OK(barlow_dataset_has_predictions(ds) == 1 &&
               !memcmp(barlow_dataset_predictions(ds), preds, sizeof preds),
           "predictions copied");
    TAP_OK(barlow_dataset_filename(ds, 0) == NULL && barlow_dataset_image_root(ds) == NULL &&
               barlow_dataset_extra_column_count(ds) == 0,
           "no files, root or extra columns from arrays");

    id = -7;
    st = barlow_dataset_class_id(ds, "horse", &id);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_class_id", "'horse'", NULL) &&
               id == -7,
           "unknown class name: INVALID_ARG naming it, out untouched");
    st = barlow_dataset_class_id(ds, NULL, &id);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_class_id", "name", NULL) && id == -7,
           "class_id NULL name");
    TAP_OK(barlow_dataset_class_id(NULL, "dog", &id) == BARLOW_E_INVALID_ARG &&
               barlow_dataset_class_id(ds, "dog", NULL) == BARLOW_E_INVALID_ARG,
           "class_id NULL ds / out");

    /* set_predictions */
    const int32_t bad_pred[] = {0, 1, 3, 0, 0};
    st = barlow_dataset_set_predictions(ds, bad_pred, 5);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_set_predictions", "predictions[2]",
                  "3") &&
               barlow_dataset_predictions(ds)[2] == 1,
           "set_predictions: id out of range named; dataset unchanged");
    st = barlow_dataset_set_predictions(ds, preds, 4);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_set_predictions", "4", "5"),
           "set_predictions: wrong length names both lengths");
    TAP_OK(barlow_dataset_set_predictions(ds, NULL, 5) == BARLOW_E_INVALID_ARG &&
               barlow_dataset_set_predictions(NULL, preds, 5) == BARLOW_E_INVALID_ARG,
           "set_predictions NULL");
    barlow_dataset_free(ds);

    /* no names: derived class count and decimal names */
    const int32_t l2[] = {0, 3, 1};
    ds = NULL;
    st = barlow_dataset_create(3, l2, NULL, NULL, 0, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 4 &&
               !strcmp(barlow_dataset_class_name(ds, 3), "3") &&
               barlow_dataset_has_predictions(ds) == 0 && barlow_dataset_predictions(ds) == NULL,
           "no names: max+1 classes named by number, no predictions");
    id = -1;
    TAP_OK(barlow_dataset_class_id(ds, "1", &id) == BARLOW_OK && id == 1, "numeric names look up");
    const int32_t p2[] = {0, 3, 3};
    TAP_OK(barlow_dataset_set_predictions(ds, p2, 3) == BARLOW_OK &&
               barlow_dataset_has_predictions(ds) == 1 && barlow_dataset_predictions(ds)[1] == 3,
           "set_predictions fills them");
    barlow_dataset_free(ds);

    ds = NULL;
    st = barlow_dataset_create(3, l2, NULL, NULL, 10, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 10, "n_classes without names");
    barlow_dataset_free(ds);

    /* repeated names (ImageNet has "crane" twice) */
    const char *dup[] = {"crane", "kite", "crane"};
    const int32_t l3[] = {2, 0};
    ds = NULL;
    st = barlow_dataset_create(2, l3, NULL, dup, 3, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_id(ds, "crane", &id) == BARLOW_OK && id == 0 &&
               barlow_dataset_labels(ds)[0] == 2,
           "repeated names allowed; lookup gives the lowest id; ids kept");
    barlow_dataset_free(ds);

    /* errors */
    barlow_dataset *out = SENTINEL_DS;
    st = barlow_dataset_create(5, labels, preds, names, 3, NULL);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "out", NULL), "NULL out");
    st = barlow_dataset_create(5, NULL, preds, names, 3, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "labels", NULL) &&
               out == SENTINEL_DS,
           "NULL labels");
    st = barlow_dataset_create(0, labels, preds, names, 3, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "n=0", NULL) &&
               out == SENTINEL_DS,
           "n = 0");
    st = barlow_dataset_create(5, labels, preds, names, 0, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "n_classes=0", NULL) &&
               out == SENTINEL_DS,
           "class names with n_classes 0");
    st = barlow_dataset_create(5, labels, preds, names, 2, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "labels[3]", "= 2") &&
               out == SENTINEL_DS,
           "label out of range names the index and value");
    const int32_t neg[] = {0, -1};
    st = barlow_dataset_create(2, neg, NULL, NULL, 0, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "labels[1]", "-1") &&
               out == SENTINEL_DS,
           "negative label (derived class count)");
    const int32_t okl[] = {0, 1};
    st = barlow_dataset_create(2, okl, neg, NULL, 0, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "predictions[1]", "-1") &&
               out == SENTINEL_DS,
           "negative prediction");
    const char *empty_name[] = {"a", ""};
    st = barlow_dataset_create(2, okl, NULL, empty_name, 2, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "class_names[1]", "empty") &&
               out == SENTINEL_DS,
           "empty class name");
    const char *null_name[] = {"a", NULL};
    st = barlow_dataset_create(2, okl, NULL, null_name, 2, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "class_names[1]", "NULL") &&
               out == SENTINEL_DS,
           "NULL class name");
    const int32_t huge[] = {2000000000};
    st = barlow_dataset_create(1, huge, NULL, NULL, 0, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create", "classes", NULL) &&
               out == SENTINEL_DS,
           "absurd class count without names is refused, not allocated");

    barlow_dataset_free(NULL);
    barlow_group_free(NULL);
    TAP_OK(barlow_dataset_size(NULL) == 0 && barlow_dataset_class_count(NULL) == 0 &&
               barlow_dataset_labels(NULL) == NULL && barlow_dataset_has_predictions(NULL) == 0 &&
               barlow_group_size(NULL) == 0 && barlow_group_indices(NULL) == NULL,
           "NULL-safe accessors and frees");
}

/* ---- groups ---------------------------------------------------------------- */

static void test_groups(void)
{
    /* rows:    0  1  2  3  4  5 */
    const int32_t labels[] = {0, 1, 0, 0, 2, 1};
    const int32_t preds[] = {0, 0, 1, 0, 2, 1};
    const char *names[] = {"a", "b", "c", "d"};
    barlow_dataset *ds = NULL;
    barlow_dataset_create(6, labels, preds, names, 4, &ds);

    barlow_group *g = NULL;
    barlow_status st = barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 0, &g);
    const size_t *ix = barlow_group_indices(g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 3 && ix[0] == 0 && ix[1] == 2 && ix[2] == 3,
           "label group: members in ascending order");
    uint8_t f[8];
    memset(f, 9, sizeof f);
    size_t nf = 99;
    double ber = -1;
    TAP_OK(barlow_group_failures(g, f) == BARLOW_OK && f[0] == 0 && f[1] == 1 && f[2] == 0 &&
               f[3] == 9,
           "failure vector of the label group");
    TAP_OK(barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 1 &&
               barlow_group_base_error_rate(g, &ber) == BARLOW_OK && ber == 1.0 / 3.0,
           "failures 1, BER 1/3");
    TAP_OK(barlow_group_dataset_size(g) == 6 && barlow_group_has_predictions(g) == 1,
           "group knows its dataset size");
    barlow_group_free(g);

    g = NULL;
    st = barlow_group_create(ds, BARLOW_GROUP_BY_PREDICTION, 0, &g);
    ix = barlow_group_indices(g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 3 && ix[0] == 0 && ix[1] == 1 && ix[2] == 3 &&
               barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 1,
           "prediction group and its failures");
    barlow_group_free(g);

    /* one member, no failures */
    g = NULL;
    st = barlow_group_create_by_name(ds, BARLOW_GROUP_BY_LABEL, "c", &g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 1 && barlow_group_indices(g)[0] == 4 &&
               barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 0 &&
               barlow_group_base_error_rate(g, &ber) == BARLOW_OK && ber == 0.0,
           "group of 1 member with no failures: BER 0");
    barlow_group_free(g);

    /* empty group */
    g = NULL;
    st = barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 3, &g);
    nf = 99;
    ber = -1;
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 0 &&
               barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 0 &&
               barlow_group_base_error_rate(g, &ber) == BARLOW_OK && ber == 0.0 &&
               barlow_group_failures(g, NULL) == BARLOW_OK,
           "empty group: size 0, failures 0, BER 0.0");
    barlow_group_free(g);

    /* index sets */
    const size_t set[] = {5, 1, 2};
    g = NULL;
    st = barlow_group_create_from_indices(ds, set, 3, &g);
    ix = barlow_group_indices(g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 3 && ix[0] == 5 && ix[1] == 1 && ix[2] == 2 &&
               barlow_group_failures(g, f) == BARLOW_OK && f[0] == 0 && f[1] == 1 && f[2] == 1 &&
               barlow_group_base_error_rate(g, &ber) == BARLOW_OK && ber == 2.0 / 3.0,
           "index-set group keeps the given order");

    /* gather rows */
    float feat[6 * 2];
    for (int i = 0; i < 12; i++) feat[i] = (float)i;
    barlow_matrix *m = NULL, *sub = NULL;
    barlow_matrix_create_copy(feat, 6, 2, 0, &m);
    st = barlow_group_gather_rows(g, m, &sub);
    TAP_OK(st == BARLOW_OK && barlow_matrix_rows(sub) == 3 && barlow_matrix_cols(sub) == 2 &&
               barlow_matrix_row(sub, 0)[0] == 10.0f && barlow_matrix_row(sub, 1)[1] == 3.0f &&
               barlow_matrix_row(sub, 2)[0] == 4.0f,
           "gather_rows copies the members' feature rows in order");
    barlow_matrix_free(sub);
    barlow_matrix *m5 = NULL;
    barlow_matrix_create_copy(feat, 5, 2, 0, &m5);
    barlow_matrix *mout = (barlow_matrix *)(void *)&sentinel_storage;
    st = barlow_group_gather_rows(g, m5, &mout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_gather_rows", "5 rows", "6") &&
               mout == (barlow_matrix *)(void *)&sentinel_storage,
           "gather_rows: features with the wrong row count");
    TAP_OK(barlow_group_gather_rows(g, NULL, &mout) == BARLOW_E_INVALID_ARG &&
               barlow_group_gather_rows(NULL, m, &mout) == BARLOW_E_INVALID_ARG,
           "gather_rows NULL");
    barlow_matrix_free(m5);
    barlow_group_free(g);

    barlow_group *empty = NULL;
    barlow_group_create_from_indices(ds, NULL, 0, &empty);
    TAP_OK(empty && barlow_group_size(empty) == 0, "empty index set is a valid group");
    st = barlow_group_gather_rows(empty, m, &mout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_gather_rows", "empty", NULL),
           "gather_rows of an empty group");
    barlow_group_free(empty);
    barlow_matrix_free(m);

    /* group errors */
    barlow_group *gout = SENTINEL_G;
    const size_t oob[] = {1, 6};
    st = barlow_group_create_from_indices(ds, oob, 2, &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create_from_indices", "indices[1]",
                  "= 6") &&
               gout == SENTINEL_G,
           "index out of range: position and value named");
    const size_t rep[] = {1, 3, 1};
    st = barlow_group_create_from_indices(ds, rep, 3, &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create_from_indices", "indices[2]",
                  "repeats") &&
               gout == SENTINEL_G,
           "repeated index rejected");
    st = barlow_group_create_from_indices(ds, NULL, 2, &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create_from_indices", "indices", NULL) &&
               gout == SENTINEL_G,
           "NULL indices with n > 0");
    st = barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 4, &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create", "class_id=4", NULL) &&
               gout == SENTINEL_G,
           "class id out of range");
    st = barlow_group_create(ds, (barlow_group_by)7, 0, &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create", "by=7", NULL) &&
               gout == SENTINEL_G,
           "bad group_by");
    st = barlow_group_create_by_name(ds, BARLOW_GROUP_BY_LABEL, "zebra", &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create_by_name", "'zebra'", NULL) &&
               gout == SENTINEL_G,
           "unknown class name in a group query");
    st = barlow_group_create(NULL, BARLOW_GROUP_BY_LABEL, 0, &gout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_group_create", "ds", NULL) && gout == SENTINEL_G,
           "NULL dataset");
    TAP_OK(barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 0, NULL) == BARLOW_E_INVALID_ARG,
           "NULL out");

    /* class counts */
    size_t sizes[4], fails[4];
    st = barlow_dataset_class_counts(ds, BARLOW_GROUP_BY_LABEL, sizes, fails);
    TAP_OK(st == BARLOW_OK && sizes[0] == 3 && sizes[1] == 2 && sizes[2] == 1 && sizes[3] == 0 &&
               fails[0] == 1 && fails[1] == 1 && fails[2] == 0 && fails[3] == 0,
           "class counts by label");
    st = barlow_dataset_class_counts(ds, BARLOW_GROUP_BY_PREDICTION, sizes, NULL);
    TAP_OK(st == BARLOW_OK && sizes[0] == 3 && sizes[1] == 2 && sizes[2] == 1 && sizes[3] == 0,
           "class counts by prediction");

    /* groups outlive their dataset */
    g = NULL;
    barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 1, &g);
    barlow_dataset_free(ds);
    TAP_OK(barlow_group_size(g) == 2 && barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 1,
           "a group is a snapshot that outlives the dataset");
    barlow_group_free(g);

    /* no predictions */
    ds = NULL;
    barlow_dataset_create(6, labels, NULL, names, 4, &ds);
    g = NULL;
    st = barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 0, &g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 3 && barlow_group_has_predictions(g) == 0,
           "label group without predictions");
    memset(f, 9, sizeof f);
    nf = 99;
    ber = -1;
    st = barlow_group_failures(g, f);
    TAP_OK(err_is(st, BARLOW_E_STATE, "barlow_group_failures", "no predictions", NULL) &&
               f[0] == 9,
           "failure vector without predictions: STATE, out untouched");
    st = barlow_group_failure_count(g, &nf);
    TAP_OK(err_is(st, BARLOW_E_STATE, "barlow_group_failure_count", "no predictions", NULL) &&
               nf == 99,
           "failure count without predictions");
    st = barlow_group_base_error_rate(g, &ber);
    TAP_OK(err_is(st, BARLOW_E_STATE, "barlow_group_base_error_rate", "no predictions", NULL) &&
               ber == -1,
           "BER without predictions");
    TAP_OK(barlow_group_failures(g, NULL) == BARLOW_E_INVALID_ARG &&
               barlow_group_failure_count(NULL, &nf) == BARLOW_E_INVALID_ARG &&
               barlow_group_base_error_rate(g, NULL) == BARLOW_E_INVALID_ARG,
           "NULL group / out");
    gout = SENTINEL_G;
    st = barlow_group_create(ds, BARLOW_GROUP_BY_PREDICTION, 0, &gout);
    TAP_OK(err_is(st, BARLOW_E_STATE, "barlow_group_create", "no predictions", NULL) &&
               gout == SENTINEL_G,
           "group by prediction without predictions: STATE");
    sizes[0] = 77;
    st = barlow_dataset_class_counts(ds, BARLOW_GROUP_BY_LABEL, sizes, fails);
    TAP_OK(err_is(st, BARLOW_E_STATE, "barlow_dataset_class_counts", "no predictions", NULL) &&
               sizes[0] == 77,
           "class failure counts without predictions: STATE");
    TAP_OK(barlow_dataset_class_counts(ds, BARLOW_GROUP_BY_LABEL, sizes, NULL) == BARLOW_OK &&
               sizes[0] == 3,
           "class sizes by label without predictions");
    barlow_dataset_set_predictions(ds, preds, 6);
    TAP_OK(barlow_group_has_predictions(g) == 0, "an old group keeps its snapshot");
    barlow_group *g2 = NULL;
    barlow_group_create(ds, BARLOW_GROUP_BY_LABEL, 0, &g2);
    TAP_OK(barlow_group_failure_count(g2, &nf) == BARLOW_OK && nf == 1,
           "a new group sees the predictions");
    barlow_group_free(g2);
    barlow_group_free(g);
    barlow_dataset_free(ds);
}

/* ---- metadata CSV ------------------------------------------------------------ */

static void test_csv(void)
{
    /* BOM, CRLF, columns in another order, an extra column with a quoted
     * newline, "" escapes, commas inside quotes, no final newline. */
    static const char text[] =
        "\xEF\xBB\xBF"
        "Labels,Note,Filenames,Predictions\r\n"
        "\"bucket, pail\",plain,a/0.jpg,\"bucket, pail\"\r\n"
        "\"bucket, pail\",\"two\r\nlines\",a/1.jpg,\"say \"\"hi\"\"\"\r\n"
        "\r\n"
        "zebra,,\"b,1.jpg\",zebra\r\n"
        "Zulu,\"\"\"\",c.jpg,zebra";
    char p[512];
    snprintf(p, sizeof p, "%s", write_file("quoted.csv", text, sizeof text - 1));
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(p, NULL, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 4, "quoted CSV: 4 rows (blank line skipped)");
    TAP_OK(barlow_dataset_class_count(ds) == 4 &&
               !strcmp(barlow_dataset_class_name(ds, 0), "Zulu") &&
               !strcmp(barlow_dataset_class_name(ds, 1), "bucket, pail") &&
               !strcmp(barlow_dataset_class_name(ds, 2), "say \"hi\"") &&
               !strcmp(barlow_dataset_class_name(ds, 3), "zebra"),
           "class ids follow byte order of the names; quotes unescaped");
    const int32_t *l = barlow_dataset_labels(ds), *pr = barlow_dataset_predictions(ds);
    TAP_OK(l && pr && l[0] == 1 && l[1] == 1 && l[2] == 3 && l[3] == 0 && pr[0] == 1 &&
               pr[1] == 2 && pr[2] == 3 && pr[3] == 3,
           "labels and predictions mapped to ids");
    TAP_OK(!strcmp(barlow_dataset_filename(ds, 0), "a/0.jpg") &&
               !strcmp(barlow_dataset_filename(ds, 2), "b,1.jpg") &&
               barlow_dataset_filename(ds, 4) == NULL,
           "filenames (comma inside quotes)");
    TAP_OK(barlow_dataset_extra_column_count(ds) == 1 &&
               !strcmp(barlow_dataset_extra_column_name(ds, 0), "Note") &&
               barlow_dataset_extra_column_name(ds, 1) == NULL &&
               !strcmp(barlow_dataset_extra_value(ds, 0, 0), "plain") &&
               !strcmp(barlow_dataset_extra_value(ds, 1, 0), "two\r\nlines") &&
               !strcmp(barlow_dataset_extra_value(ds, 2, 0), "") &&
               !strcmp(barlow_dataset_extra_value(ds, 3, 0), "\"") &&
               barlow_dataset_extra_value(ds, 4, 0) == NULL,
           "extra column kept, with a newline inside quotes");
    size_t sizes[4], fails[4];
    TAP_OK(barlow_dataset_class_counts(ds, BARLOW_GROUP_BY_LABEL, sizes, fails) == BARLOW_OK &&
               sizes[1] == 2 && fails[1] == 1 && sizes[3] == 1 && fails[3] == 0 && fails[0] == 1,
           "per-class failures from the CSV");
    barlow_buffer path = {NULL, 0};
    TAP_OK(barlow_dataset_image_path(ds, 0, &path) == BARLOW_OK && !strcmp(path.data, "a/0.jpg") &&
               path.size == 7,
           "image path without a root is the filename");
    barlow_buffer_free(&path);
    barlow_dataset_free(ds);

    /* the same rows in another order, LF, final newline: same ids */
    char p2[512];
    snprintf(p2, sizeof p2, "%s", WRITE("reordered.csv",
                           "Filenames,Predictions,Labels\n"
                           "c.jpg,zebra,Zulu\n"
                           "\"b,1.jpg\",zebra,zebra\n"
                           "a/1.jpg,\"say \"\"hi\"\"\",\"bucket, pail\"\n"
                           "a/0.jpg,\"bucket, pail\",\"bucket, pail\"\n"));
    ds = NULL;
    st = barlow_dataset_load_csv(p2, NULL, &ds);
    int32_t id = -1;
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_id(ds, "zebra", &id) == BARLOW_OK && id == 3 &&
               barlow_dataset_class_id(ds, "say \"hi\"", &id) == BARLOW_OK && id == 2 &&
               barlow_dataset_labels(ds)[0] == 0,
           "ids do not depend on the row order");
    TAP_OK(barlow_dataset_extra_column_count(ds) == 0 && barlow_dataset_extra_value(ds, 0, 0) == NULL,
           "no extra columns");
    barlow_dataset_free(ds);

    /* class-name list in the options fixes the ids */
    const char *list[] = {"zebra", "bucket, pail", "Zulu", "say \"hi\"", "unused"};
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    TAP_OK(o.version == BARLOW_DATASET_CSV_OPTIONS_VERSION && o.class_names == NULL &&
               o.image_root == NULL,
           "options defaults");
    o.class_names = list;
    o.n_class_names = 5;
    o.image_root = "/data/imgs/";
    ds = NULL;
    st = barlow_dataset_load_csv(p2, &o, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 5 &&
               barlow_dataset_labels(ds)[0] == 2 && barlow_dataset_labels(ds)[1] == 0 &&
               barlow_dataset_predictions(ds)[2] == 3,
           "ids follow the given class-name list");
    TAP_OK(barlow_dataset_image_path(ds, 1, &path) == BARLOW_OK && !strcmp(path.data, "/data/imgs/b,1.jpg") &&
               !strcmp(barlow_dataset_image_root(ds), "/data/imgs/"),
           "image root joined to the filename");
    barlow_buffer_free(&path);
    barlow_buffer pout = {&sentinel_storage, 3};
    st = barlow_dataset_image_path(ds, 4, &pout);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_image_path", "row 4", NULL) &&
               pout.data == (void *)&sentinel_storage && pout.size == 3,
           "image path of a row out of range");
    barlow_dataset_free(ds);

    /* the list from a file (CRLF, BOM, final newline) */
    char names_txt[512];
    snprintf(names_txt, sizeof names_txt, "%s", WRITE("names.txt", "\xEF\xBB\xBFzebra\r\nbucket, pail\r\nZulu\r\nsay \"hi\"\r\n"));
    barlow_dataset_csv_options_init(&o);
    o.class_names_path = names_txt;
    o.image_root = "root";
    ds = NULL;
    st = barlow_dataset_load_csv(p2, &o, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 4 &&
               !strcmp(barlow_dataset_class_name(ds, 1), "bucket, pail") &&
               barlow_dataset_labels(ds)[0] == 2,
           "class names from a file");
    TAP_OK(barlow_dataset_image_path(ds, 0, &path) == BARLOW_OK && !strcmp(path.data, "root/c.jpg"),
           "root without a trailing slash");
    barlow_buffer_free(&path);
    barlow_dataset_free(ds);

    /* a name not in the list */
    const char *short_list[] = {"zebra", "bucket, pail", "Zulu"};
    barlow_dataset_csv_options_init(&o);
    o.class_names = short_list;
    o.n_class_names = 3;
    barlow_dataset *out = SENTINEL_DS;
    st = barlow_dataset_load_csv(p2, &o, &out);
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_csv", "row 2", "'say \"hi\"'") &&
               strstr(barlow_last_error(), "line 4") && out == SENTINEL_DS,
           "prediction not in the list: FORMAT naming line, row and name");
    o.class_names_path = names_txt;
    st = barlow_dataset_load_csv(p2, &o, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_csv", "class_names_path", NULL) &&
               out == SENTINEL_DS,
           "class_names and class_names_path both set");
    barlow_dataset_csv_options_init(&o);
    o.version = 0;
    st = barlow_dataset_load_csv(p2, &o, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_csv", "barlow_dataset_csv_options",
                  NULL) &&
               out == SENTINEL_DS,
           "options version 0");
    o.version = BARLOW_DATASET_CSV_OPTIONS_VERSION + 1;
    st = barlow_dataset_load_csv(p2, &o, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_csv", "barlow_dataset_csv_options",
                  NULL) &&
               out == SENTINEL_DS,
           "future options version");
    barlow_dataset_csv_options_init(&o);
    const char *bad_list[] = {"a", ""};
    o.class_names = bad_list;
    o.n_class_names = 2;
    st = barlow_dataset_load_csv(p2, &o, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_csv", "class_names[1]", NULL) &&
               out == SENTINEL_DS,
           "empty name in the options' list");
    barlow_dataset_csv_options_init(&o);
    o.class_names_path = WRITE("names-gap.txt", "a\n\nb\n");
    st = barlow_dataset_load_csv(p2, &o, &out);
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_csv", "line 2", "empty") &&
               out == SENTINEL_DS,
           "class-names file with an empty line names it");

    /* no Predictions column */
    const char *p3 = WRITE("nopred.csv", "Filenames,Labels\nx.png,cat\n/abs/y.png,dog\n");
    barlow_dataset_csv_options_init(&o);
    o.image_root = "root";
    ds = NULL;
    st = barlow_dataset_load_csv(p3, &o, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 2 && barlow_dataset_has_predictions(ds) == 0 &&
               barlow_dataset_predictions(ds) == NULL,
           "without a Predictions column the dataset has no predictions");
    TAP_OK(barlow_dataset_image_path(ds, 1, &path) == BARLOW_OK && !strcmp(path.data, "/abs/y.png"),
           "an absolute filename ignores the image root");
    barlow_buffer_free(&path);
    barlow_dataset_free(ds);

    /* lone CR line ends, quote inside an unquoted field */
    const char *p4 = WRITE("cr.csv", "Filenames,Predictions,Labels\rit's 5\" tall.png,a,b\r");
    ds = NULL;
    st = barlow_dataset_load_csv(p4, NULL, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 1 &&
               !strcmp(barlow_dataset_filename(ds, 0), "it's 5\" tall.png"),
           "CR line ends; a quote inside an unquoted field is data");
    barlow_dataset_free(ds);

    /* errors */
    struct {
        const char *name, *text, *fn_part, *part, *part2;
        barlow_status want;
    } bad[] = {
        {"empty.csv", "", "empty", NULL, NULL, BARLOW_E_FORMAT},
        {"bom-only.csv", "\xEF\xBB\xBF\n", "empty", NULL, NULL, BARLOW_E_FORMAT},
        {"header-only.csv", "Filenames,Predictions,Labels\n", "no rows", NULL, NULL, BARLOW_E_FORMAT},
        {"no-labels.csv", "Filenames,Predictions\na.jpg,x\n", "'Labels'", NULL, NULL, BARLOW_E_FORMAT},
        {"no-files.csv", "Name,Predictions,Labels\na.jpg,x,y\n", "'Filenames'", NULL, NULL,
         BARLOW_E_FORMAT},
        {"twice.csv", "Filenames,Labels,Predictions,Labels\na,x,y,z\n", "'Labels'", "twice", NULL,
         BARLOW_E_FORMAT},
        {"unbalanced.csv", "Filenames,Predictions,Labels\na.jpg,x,y\nb.jpg,\"x,y\nc.jpg,x,y\n",
         "unbalanced", "line 3", NULL, BARLOW_E_FORMAT},
        {"after-quote.csv", "Filenames,Predictions,Labels\na.jpg,\"x\"y,z\n", "after the closing quote",
         "line 2", NULL, BARLOW_E_FORMAT},
        {"fields.csv", "Filenames,Predictions,Labels\na.jpg,x,y\nb.jpg,x\n", "line 3", "row 1",
         "2 fields", BARLOW_E_FORMAT},
        {"fields2.csv", "Filenames,Predictions,Labels\na.jpg,x,y,z\n", "line 2", "row 0", "4 fields",
         BARLOW_E_FORMAT},
        {"empty-label.csv", "Filenames,Predictions,Labels\na.jpg,x,\n", "empty Labels", "row 0", NULL,
         BARLOW_E_FORMAT},
        {"empty-file.csv", "Filenames,Predictions,Labels\n,x,y\n", "empty Filenames", "line 2", NULL,
         BARLOW_E_FORMAT},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *bp = write_file(bad[k].name, bad[k].text, strlen(bad[k].text));
        out = SENTINEL_DS;
        st = barlow_dataset_load_csv(bp, NULL, &out);
        TAP_OK(err_is(st, bad[k].want, "barlow_dataset_load_csv", bad[k].fn_part, bad[k].part) &&
                   (!bad[k].part2 || strstr(barlow_last_error(), bad[k].part2)) &&
                   strstr(barlow_last_error(), bad[k].name) && out == SENTINEL_DS,
               "bad CSV %s: %s", bad[k].name, barlow_last_error());
    }
    out = SENTINEL_DS;
    st = barlow_dataset_load_csv(tmp_path("missing.csv"), NULL, &out);
    TAP_OK(err_is(st, BARLOW_E_IO, "barlow_dataset_load_csv", "missing.csv", NULL) && out == SENTINEL_DS,
           "missing file: IO naming it");
    TAP_OK(err_is(barlow_dataset_load_csv(NULL, NULL, &out), BARLOW_E_INVALID_ARG,
                  "barlow_dataset_load_csv", "path", NULL) &&
               out == SENTINEL_DS,
           "NULL path");
    TAP_OK(err_is(barlow_dataset_load_csv(p2, NULL, NULL), BARLOW_E_INVALID_ARG,
                  "barlow_dataset_load_csv", "out", NULL),
           "NULL out");
}

/* Every prefix of a valid quoted CSV and 400 copies with 3 random byte edits
 * each (fixed seed): each load either succeeds with ids in range or fails
 * with FORMAT and leaves out untouched; nothing crashes (also run under
 * ASan). */
static void test_csv_mutations(void)
{
    static const char base[] =
        "\xEF\xBB\xBFLabels,Note,Filenames,Predictions\r\n"
        "\"bucket, pail\",plain,a/0.jpg,\"bucket, pail\"\r\n"
        "\"bucket, pail\",\"two\r\nlines\",a/1.jpg,\"say \"\"hi\"\"\"\r\n"
        "zebra,,\"b,1.jpg\",zebra\n";
    static const char pick[] = {'"', ',', '\r', '\n', 'a', '\0'};
    const size_t len = sizeof base - 1;
    char buf[sizeof base];
    uint32_t seed = 12345;
    size_t bad = 0, ok = 0, runs = 0;
    for (size_t k = 0; k < len + 400; k++) {
        size_t n = len;
        memcpy(buf, base, len);
        if (k < len) {
            n = k; /* a prefix */
        } else {
            for (int e = 0; e < 3; e++) {
                seed = seed * 1664525u + 1013904223u;
                size_t at = (seed >> 8) % len;
                seed = seed * 1664525u + 1013904223u;
                buf[at] = pick[(seed >> 8) % sizeof pick];
            }
        }
        const char *p = write_file("mut.csv", buf, n);
        barlow_dataset *out = SENTINEL_DS;
        barlow_status st = barlow_dataset_load_csv(p, NULL, &out);
        runs++;
        if (st == BARLOW_OK) {
            size_t m = barlow_dataset_size(out), c = barlow_dataset_class_count(out);
            const int32_t *l = barlow_dataset_labels(out), *pr = barlow_dataset_predictions(out);
            int good = m >= 1 && c >= 1;
            for (size_t i = 0; good && i < m; i++)
                good = l[i] >= 0 && (size_t)l[i] < c &&
                       (!pr || (pr[i] >= 0 && (size_t)pr[i] < c));
            if (good)
                ok++;
            else
                bad++;
            barlow_dataset_free(out);
        } else if (st != BARLOW_E_FORMAT || out != SENTINEL_DS ||
                   strncmp(barlow_last_error(), "barlow_dataset_load_csv: ", 25) != 0) {
            bad++;
            printf("# input %zu: status %d: %s\n", k, (int)st, barlow_last_error());
        }
    }
    TAP_OK(bad == 0 && ok > 0,
           "%zu mutated CSVs: %zu loaded consistently, the rest were FORMAT errors", runs, ok);
}

/* ---- .npy ------------------------------------------------------------------ */

static void test_npy(void)
{
    const int64_t lab[] = {2, 0, 1, 2};
    const int32_t pred[] = {2, 1, 1, 0};
    size_t shape[2] = {4, 1};
    char lp[512], pp[512];
    snprintf(lp, sizeof lp, "%s", tmp_path("labels.npy"));
    snprintf(pp, sizeof pp, "%s", tmp_path("preds.npy"));
    int ok = barlow_array_save_npy(BARLOW_DTYPE_INT64, 1, shape, lab, lp) == BARLOW_OK &&
             barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, shape, pred, pp) == BARLOW_OK;
    TAP_OK(ok, "wrote labels/predictions .npy (%s)", barlow_last_error());
    const char *np = WRITE("npy-names.txt", "cat\ndog\nbird");
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_npy(lp, pp, np, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 4 && barlow_dataset_class_count(ds) == 3 &&
               barlow_dataset_labels(ds)[0] == 2 && barlow_dataset_predictions(ds)[1] == 1 &&
               !strcmp(barlow_dataset_class_name(ds, 2), "bird"),
           "load_npy with predictions and class names (%s)", barlow_last_error());
    barlow_group *g = NULL;
    size_t nf = 0;
    TAP_OK(barlow_group_create_by_name(ds, BARLOW_GROUP_BY_LABEL, "bird", &g) == BARLOW_OK &&
               barlow_group_size(g) == 2 && barlow_group_failure_count(g, &nf) == BARLOW_OK &&
               nf == 1,
           "groups over a .npy dataset");
    barlow_group_free(g);
    barlow_dataset_free(ds);
    ds = NULL;
    st = barlow_dataset_load_npy(lp, NULL, NULL, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 3 &&
               barlow_dataset_has_predictions(ds) == 0 && !strcmp(barlow_dataset_class_name(ds, 1), "1"),
           "load_npy labels only");
    barlow_dataset_free(ds);

    /* the same arrays as members of an .npz archive ("archive.npz:member") */
    char zp[512], zl[560], zpred[560], zmissing[560];
    snprintf(zp, sizeof zp, "%s", tmp_path("extracted.npz"));
    barlow_npz_writer *w = NULL;
    ok = barlow_npz_writer_open(zp, &w) == BARLOW_OK &&
         barlow_npz_writer_add(w, "labels", BARLOW_DTYPE_INT64, 1, shape, lab) == BARLOW_OK &&
         barlow_npz_writer_add(w, "predictions", BARLOW_DTYPE_INT32, 1, shape, pred) == BARLOW_OK &&
         barlow_npz_writer_commit(w) == BARLOW_OK;
    barlow_npz_writer_free(w);
    TAP_OK(ok, "wrote labels/predictions .npz (%s)", barlow_last_error());
    snprintf(zl, sizeof zl, "%s:labels", zp);
    snprintf(zpred, sizeof zpred, "%s:predictions", zp);
    snprintf(zmissing, sizeof zmissing, "%s:logits", zp);
    ds = NULL;
    st = barlow_dataset_load_npy(zl, zpred, np, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 4 && barlow_dataset_labels(ds)[0] == 2 &&
               barlow_dataset_predictions(ds)[3] == 0 &&
               !strcmp(barlow_dataset_class_name(ds, 0), "cat"),
           "load_npy reads archive.npz:member specs (%s)", barlow_last_error());
    barlow_dataset_free(ds);

    barlow_dataset *out = SENTINEL_DS;
    st = barlow_dataset_load_npy(zl, zmissing, NULL, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_npy", "logits", NULL) &&
               out == SENTINEL_DS,
           "a missing .npz member is named");
    const char *short_p = tmp_path("preds3.npy");
    size_t s3[1] = {3};
    barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, s3, pred, short_p);
    st = barlow_dataset_load_npy(lp, short_p, NULL, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_npy", "3 predictions", "4 labels") &&
               out == SENTINEL_DS,
           "predictions of the wrong length");
    const char *l2d = tmp_path("labels2d.npy");
    size_t s22[2] = {2, 2};
    barlow_array_save_npy(BARLOW_DTYPE_INT64, 2, s22, lab, l2d);
    st = barlow_dataset_load_npy(l2d, NULL, NULL, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_npy", "1-D", "labels2d.npy") &&
               out == SENTINEL_DS,
           "2-D labels rejected");
    const char *two = WRITE("two-names.txt", "cat\ndog\n");
    st = barlow_dataset_load_npy(lp, NULL, two, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_npy", "labels.npy[0]", "= 2") &&
               out == SENTINEL_DS,
           "label beyond the class-name list names the file, index and value");
    const float frac[] = {0.0f, 1.5f};
    const char *fp = tmp_path("frac.npy");
    size_t s2[1] = {2};
    barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 1, s2, frac, fp);
    st = barlow_dataset_load_npy(fp, NULL, NULL, &out);
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_npy", "frac.npy", NULL) &&
               out == SENTINEL_DS,
           "non-integer label values: FORMAT");
    st = barlow_dataset_load_npy(tmp_path("nope.npy"), NULL, NULL, &out);
    TAP_OK(err_is(st, BARLOW_E_IO, "barlow_dataset_load_npy", "nope.npy", NULL) && out == SENTINEL_DS,
           "missing labels file: IO");
    st = barlow_dataset_load_npy(lp, NULL, tmp_path("nope.txt"), &out);
    TAP_OK(err_is(st, BARLOW_E_IO, "barlow_dataset_load_npy", "nope.txt", NULL) && out == SENTINEL_DS,
           "missing class-names file: IO");
    st = barlow_dataset_load_npy(lp, NULL, WRITE("no-names.txt", ""), &out);
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_npy", "no class names", NULL) &&
               out == SENTINEL_DS,
           "empty class-names file");
    TAP_OK(err_is(barlow_dataset_load_npy(NULL, NULL, NULL, &out), BARLOW_E_INVALID_ARG,
                  "barlow_dataset_load_npy", "labels_path", NULL) &&
               barlow_dataset_load_npy(lp, NULL, NULL, NULL) == BARLOW_E_INVALID_ARG &&
               out == SENTINEL_DS,
           "NULL arguments");
}

/* ---- text encoding: NUL bytes and UTF-8 (docs/formats.md) ---------------------- */

/* Loads `text` (len bytes, may hold NULs) as a CSV; expects FORMAT naming
 * the file and containing `part` and `part2`. */
static int csv_refused(const char *name, const char *text, size_t len, const char *part,
                       const char *part2)
{
    const char *p = write_file(name, text, len);
    barlow_dataset *out = SENTINEL_DS;
    barlow_status st = barlow_dataset_load_csv(p, NULL, &out);
    return err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_csv", part, part2) &&
           strstr(barlow_last_error(), name) && out == SENTINEL_DS;
}
#define CSV_REFUSED(name, lit, part, part2) csv_refused(name, lit, sizeof(lit) - 1, part, part2)

static void test_nul_bytes(void)
{
    static const char nul_rule[] =
        ": NUL byte (text files must not contain NUL bytes: binary data, or UTF-16 text?)";
    /* cat\0A and cat\0B used to become one class "cat" */
    TAP_OK(CSV_REFUSED("nul.csv", "Filenames,Predictions,Labels\na.jpg,cat\0A,cat\0A\n"
                                  "b.jpg,cat\0B,cat\0B\n",
                       "line 2 (row 0, column 'Predictions')", nul_rule),
           "CSV: NUL in a class cell is FORMAT naming line, row and column");
    char csv_msg[1024];
    snprintf(csv_msg, sizeof csv_msg, "%s", barlow_last_error());
    TAP_OK(CSV_REFUSED("nul-label.csv", "Filenames,Labels\na.jpg,dog\nb.jpg,cat\0B\n",
                       "line 3 (row 1, column 'Labels')", nul_rule),
           "CSV: NUL in a Labels cell of the second row");
    TAP_OK(CSV_REFUSED("nul-file.csv", "Filenames,Labels\na\0.jpg,dog\n",
                       "line 2 (row 0, column 'Filenames')", nul_rule),
           "CSV: NUL in a Filenames cell");
    TAP_OK(CSV_REFUSED("nul-extra.csv", "Filenames,Labels,Note\na.jpg,dog,\"x\ny\0z\"\n",
                       "line 3 (row 0, column 'Note')", nul_rule),
           "CSV: NUL on the second line of a quoted extra cell names that line");
    TAP_OK(CSV_REFUSED("nul-header.csv", "Filenames,Lab\0els\na.jpg,dog\n",
                       "line 1 (header, field 2)", nul_rule),
           "CSV: NUL in the header");
    TAP_OK(CSV_REFUSED("nul-quote.csv", "Filenames,Labels\n\"a.jpg\"\0,dog\n",
                       "line 2 (after the closing quote of field 1)", nul_rule),
           "CSV: NUL after a closing quote");
    TAP_OK(CSV_REFUSED("nul-fields.csv", "Filenames,Labels\na.jpg,dog,x\0\n",
                       "line 2 (row 0, field 3)", nul_rule),
           "CSV: NUL in a field the header does not name");

    /* the class-names file: the same rule, the same words */
    static const char names[] = "cat\nd\0og\n";
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.class_names_path = write_file("nul-names.txt", names, sizeof names - 1);
    const char *ok_csv = WRITE("nul-ok.csv", "Filenames,Labels\na.jpg,cat\n");
    barlow_dataset *out = SENTINEL_DS;
    barlow_status st = barlow_dataset_load_csv(ok_csv, &o, &out);
    const char *m = barlow_last_error(), *tail = strstr(m, ": NUL byte"),
               *csv_tail = strstr(csv_msg, ": NUL byte");
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_csv", "nul-names.txt: line 2: NUL",
                  nul_rule) &&
               out == SENTINEL_DS && tail && csv_tail && !strcmp(tail, csv_tail),
           "class-names file: NUL is FORMAT naming the line, in the CSV's words");
    const int32_t lab[] = {0, 1};
    size_t shape[1] = {2};
    char lp[512];
    snprintf(lp, sizeof lp, "%s", tmp_path("nul-labels.npy"));
    st = barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, shape, lab, lp);
    if (st == BARLOW_OK) st = barlow_dataset_load_npy(lp, NULL, o.class_names_path, &out);
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_npy", "nul-names.txt: line 2",
                  nul_rule) &&
               out == SENTINEL_DS,
           "class-names file for .npy: the same rule");
}

static void test_utf8_names(void)
{
    /* valid: Latin-1 range, CJK, an emoji (4 bytes), U+10FFFF */
    const char *p = WRITE("utf8.csv", "Filenames,Predictions,Labels\n"
                                      "a.jpg,caf\xC3\xA9,\xE6\x97\xA5\xE6\x9C\xAC\n"
                                      "b.jpg,\xF0\x9F\x90\x9F,\xF4\x8F\xBF\xBF\n");
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(p, NULL, &ds);
    int32_t id = -1;
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 4 &&
               barlow_dataset_class_id(ds, "caf\xC3\xA9", &id) == BARLOW_OK &&
               barlow_dataset_class_id(ds, "\xE6\x97\xA5\xE6\x9C\xAC", &id) == BARLOW_OK &&
               barlow_dataset_class_id(ds, "\xF0\x9F\x90\x9F", &id) == BARLOW_OK,
           "CSV: multi-byte UTF-8 names (e-acute, CJK, emoji, U+10FFFF) are accepted (%s)",
           barlow_last_error());
    barlow_dataset_free(ds);

    /* refused, naming line, row, column and offset */
    TAP_OK(CSV_REFUSED("ff.csv", "Filenames,Predictions,Labels\na.jpg,dog,cat\xFF\xFE\n",
                       "line 2 (row 0): Labels cell: not valid UTF-8",
                       "byte 0xff at offset 3"),
           "CSV: \\xff\\xfe in a Labels cell is FORMAT naming row, column and offset");
    TAP_OK(CSV_REFUSED("overlong.csv", "Filenames,Predictions,Labels\na.jpg,dog,dog\n"
                                       "b.jpg,\xC0\xAF,dog\n",
                       "line 3 (row 1): Predictions cell: not valid UTF-8",
                       "byte 0xc0 at offset 0"),
           "CSV: an overlong form is refused");
    TAP_OK(CSV_REFUSED("surrogate.csv", "Filenames,Labels\na.jpg,x\xED\xA0\x80\n",
                       "Labels cell: not valid UTF-8", "byte 0xed at offset 1"),
           "CSV: an encoded surrogate is refused");
    TAP_OK(CSV_REFUSED("above.csv", "Filenames,Labels\na.jpg,\xF4\x90\x80\x80\n",
                       "Labels cell: not valid UTF-8", "offset 0"),
           "CSV: a code point above U+10FFFF is refused");
    TAP_OK(CSV_REFUSED("cut.csv", "Filenames,Labels\na.jpg,ab\xE6\x97\n",
                       "Labels cell: not valid UTF-8", "byte 0xe6 at offset 2"),
           "CSV: a truncated sequence is refused");

    /* file names and extra cells stay bytes */
    p = WRITE("bytes.csv", "Filenames,Labels,Note\n\xFF.jpg,dog,\xC0\xAF\n");
    ds = NULL;
    st = barlow_dataset_load_csv(p, NULL, &ds);
    TAP_OK(st == BARLOW_OK && !strcmp(barlow_dataset_filename(ds, 0), "\xFF.jpg") &&
               !strcmp(barlow_dataset_extra_value(ds, 0, 0), "\xC0\xAF"),
           "CSV: non-UTF-8 file names and extra cells are kept as bytes");
    barlow_dataset_free(ds);

    /* the class-names file */
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.class_names_path = WRITE("bad-names.txt", "cat\ndog\n\xE6\x97\xA5\xED\xA0\x80\n");
    barlow_dataset *out = SENTINEL_DS;
    st = barlow_dataset_load_csv(tmp_path("nul-ok.csv"), &o, &out);
    TAP_OK(err_is(st, BARLOW_E_FORMAT, "barlow_dataset_load_csv",
                  "bad-names.txt: line 3: class name: not valid UTF-8", "byte 0xed at offset 3") &&
               out == SENTINEL_DS,
           "class-names file: a surrogate is FORMAT naming line and offset");

    /* arrays: INVALID_ARG naming the index */
    const int32_t labels[] = {0, 1};
    const char *bad[] = {"ok", "b\xC0\xAF"};
    out = SENTINEL_DS;
    st = barlow_dataset_create(2, labels, NULL, bad, 2, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_create",
                  "class_names[1]: not valid UTF-8", "byte 0xc0 at offset 1") &&
               out == SENTINEL_DS,
           "create: a non-UTF-8 name is INVALID_ARG naming its index and offset");
    o.class_names_path = NULL;
    o.class_names = bad;
    o.n_class_names = 2;
    st = barlow_dataset_load_csv(tmp_path("nul-ok.csv"), &o, &out);
    TAP_OK(err_is(st, BARLOW_E_INVALID_ARG, "barlow_dataset_load_csv",
                  "class_names[1]: not valid UTF-8", "offset 1") &&
               out == SENTINEL_DS,
           "load_csv: a non-UTF-8 name in the options' list is INVALID_ARG");
    const char *good[] = {"\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x90\x9F"};
    ds = NULL;
    st = barlow_dataset_create(2, labels, NULL, good, 2, &ds);
    TAP_OK(st == BARLOW_OK && !strcmp(barlow_dataset_class_name(ds, 1), "\xF0\x9F\x90\x9F"),
           "create: multi-byte names are accepted");
    barlow_dataset_free(ds);
}

/* ---- the reference sample ------------------------------------------------------ */

static void test_fixture(void)
{
    const char *shared = getenv("BARLOW_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/barlow-sample/metadata.csv", shared ? shared : "../shared");
    if (access(path, R_OK) != 0) {
        TAP_OK(1, "reference sample # SKIP %s is absent (it is present in CI)", path);
        return;
    }
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(path, NULL, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 144, "sample: 144 rows (%s)",
           barlow_last_error());
    if (st != BARLOW_OK) return;
    barlow_group *g = NULL;
    size_t nf = 0;
    double ber = -1;
    st = barlow_group_create_by_name(ds, BARLOW_GROUP_BY_LABEL, "water jug", &g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 144 &&
               barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 72 &&
               barlow_group_base_error_rate(g, &ber) == BARLOW_OK && ber == 0.5,
           "sample: label group 'water jug' has 144 images, 72 failures, BER 0.5000");
    barlow_group_free(g);
    g = NULL;
    st = barlow_group_create_by_name(ds, BARLOW_GROUP_BY_PREDICTION, "water jug", &g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 72 &&
               barlow_group_failure_count(g, &nf) == BARLOW_OK && nf == 0,
           "sample: prediction group 'water jug' has 72 images, 0 failures");
    barlow_group_free(g);
    /* class names with commas (quoted in the file) */
    g = NULL;
    st = barlow_group_create_by_name(
        ds, BARLOW_GROUP_BY_PREDICTION,
        "coho, cohoe, coho salmon, blue jack, silver salmon, Oncorhynchus kisutch", &g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 1, "sample: a 6-comma class name parsed whole");
    barlow_group_free(g);
    g = NULL;
    st = barlow_group_create_by_name(ds, BARLOW_GROUP_BY_PREDICTION, "bucket, pail", &g);
    TAP_OK(st == BARLOW_OK && barlow_group_size(g) == 2, "sample: 'bucket, pail' predicted twice");
    barlow_group_free(g);
    int bad_names = 0;
    for (int32_t c = 0; c < (int32_t)barlow_dataset_class_count(ds); c++) {
        const char *n = barlow_dataset_class_name(ds, c);
        if (n[0] == '"' || n[0] == ' ' || n[strlen(n) - 1] == '"') bad_names++;
        if (c > 0 && strcmp(barlow_dataset_class_name(ds, c - 1), n) >= 0) bad_names++;
    }
    TAP_OK(barlow_dataset_class_count(ds) == 50 && bad_names == 0,
           "sample: 50 distinct class names, sorted, no stray quotes or spaces");
    barlow_buffer ip = {NULL, 0};
    TAP_OK(barlow_dataset_image_path(ds, 0, &ip) == BARLOW_OK && !strcmp(ip.data, "0.jpg"),
           "sample: first filename");
    barlow_buffer_free(&ip);
    barlow_dataset_free(ds);
}

/* barlow_dataset_set_class_names_file: names for a dataset whose ids have
 * none (IDX), all-or-nothing. */
static void test_set_class_names(void)
{
    const int32_t lab[] = {0, 2, 1, 2};
    barlow_dataset *ds = NULL;
    TAP_OK(barlow_dataset_create(4, lab, NULL, NULL, 0, &ds) == BARLOW_OK, "set names: create");
    TAP_OK(barlow_dataset_set_class_names_file(ds, WRITE("few.txt", "a\nb\n")) ==
           BARLOW_E_INVALID_ARG, "set names: fewer names than classes is refused");
    TAP_OK(strcmp(barlow_dataset_class_name(ds, 2), "2") == 0, "set names: unchanged on error");
    TAP_OK(barlow_dataset_set_class_names_file(ds, WRITE("n.txt", "cat\r\nwater jug\nbird\nowl\n")) ==
           BARLOW_OK, "set names: applied");
    TAP_OK(barlow_dataset_class_count(ds) == 4, "set names: class count = names");
    TAP_OK(strcmp(barlow_dataset_class_name(ds, 1), "water jug") == 0, "set names: id 1");
    int32_t id = -1;
    TAP_OK(barlow_dataset_class_id(ds, "bird", &id) == BARLOW_OK && id == 2, "set names: lookup");
    TAP_OK(barlow_dataset_labels(ds)[1] == 2, "set names: ids unchanged");
    TAP_OK(barlow_dataset_set_class_names_file(ds, NULL) == BARLOW_E_INVALID_ARG,
       "set names: NULL path");
    barlow_dataset_free(ds);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    test_arrays();
    test_groups();
    test_csv();
    test_csv_mutations();
    test_npy();
    test_nul_bytes();
    test_utf8_names();
    test_fixture();
    test_set_class_names();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    return tap_done();
}

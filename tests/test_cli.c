/* The one set of helpers of the barlow program (programs/barlow/cli.c):
 * the parsers of option values (numbers, enumerations, comma-separated
 * lists, classes by name or id), F.npz:member specs and path joining.
 * Compiled with cli.c and the library files it needs (lib/utf8.c,
 * lib/json.c, lib/alloc.c), as the program is. The usage errors they print
 * go to stderr (the test log). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/barlow.h"
#include "cli.h"
#include "tap.h"

static void check_numbers(void)
{
    size_t v = 7;
    double x = 0;
    TAP_OK(cli_parse_size("42", 0, 100, &v) && v == 42, "cli_parse_size: 42");
    v = 7;
    TAP_OK(!cli_parse_size("101", 0, 100, &v) && !cli_parse_size("-1", 0, 100, &v) &&
               !cli_parse_size("+1", 0, 100, &v) && !cli_parse_size("", 0, 100, &v) &&
               !cli_parse_size("1x", 0, 100, &v) && !cli_parse_size(NULL, 0, 100, &v) && v == 7,
           "cli_parse_size: out of range, signs, empty, trailing text refused; *out untouched");
    TAP_OK(cli_parse_double("0.25", &x) && x == 0.25, "cli_parse_double: 0.25");
    TAP_OK(!cli_parse_double("inf", &x) && !cli_parse_double("nan", &x) &&
               !cli_parse_double("1,5", &x) && !cli_parse_double("", &x) && x == 0.25,
           "cli_parse_double: not finite or not a number refused");
    uint32_t u = 0;
    TAP_OK(cli_u32("seed", "4294967295", &u) == 0 && u == UINT32_MAX &&
               cli_u32("seed", "4294967296", &u) != 0,
           "cli_u32: 0..2^32-1");
}

static void check_enums(void)
{
    static const cli_choice c[] = {{"one", 1}, {"two", 2}, {"uno", 1}};
    int v = 0;
    TAP_OK(cli_choice_find(c, 3, "two", &v) && v == 2, "cli_choice_find: a word");
    TAP_OK(cli_choice_find(c, 3, "uno", &v) && v == 1, "cli_choice_find: an alias");
    v = 9;
    TAP_OK(!cli_choice_find(c, 3, "One", &v) && !cli_choice_find(c, 3, NULL, &v) && v == 9,
           "cli_choice_find: case matters; nothing found leaves *value");
    TAP_OK(cli_enum("test", "opt", "three", c, 3, &v) == CLI_USAGE && v == 9,
           "cli_enum: an unknown word is a usage error (message on stderr)");
    barlow_estimator e = BARLOW_ESTIMATOR_KNN;
    TAP_OK(cli_estimator("test", "split-gain", &e) == CLI_OK && e == BARLOW_ESTIMATOR_SPLIT_GAIN &&
               cli_estimator("test", "tree", &e) == CLI_USAGE,
           "cli_estimator: knn|split-gain|mean");
    barlow_group_by by = BARLOW_GROUP_BY_LABEL;
    TAP_OK(cli_group_by("test", "prediction", &by) == CLI_OK && by == BARLOW_GROUP_BY_PREDICTION &&
               cli_group_by("test", "label,prediction", &by) == CLI_USAGE,
           "cli_group_by: one grouping only");
    uint32_t g = 0;
    bool ok = true;
    const char *both[] = {"label,prediction", "prediction,label", "both"};
    for (size_t i = 0; i < 3; i++)
        ok &= cli_groupings("test", both[i], &g) == CLI_OK && g == BARLOW_ANALYSIS_BY_BOTH;
    TAP_OK(ok && cli_groupings("test", "label", &g) == CLI_OK && g == BARLOW_ANALYSIS_BY_LABEL &&
               cli_groupings("test", "colour", &g) == CLI_USAGE,
           "cli_groupings: label, prediction and both (with its aliases)");
    TAP_OK(!strcmp(cli_grouping_name(BARLOW_GROUP_BY_LABEL), "label") &&
               !strcmp(cli_grouping_name(BARLOW_GROUP_BY_PREDICTION), "prediction"),
           "cli_grouping_name");
}

static void check_lists(void)
{
    const char *p = "a,,bc", *item;
    size_t len, n = 0;
    char seen[64] = "";
    while (cli_list_next(&p, ',', &item, &len)) {
        strncat(seen, item, len);
        strcat(seen, "|");
        n++;
    }
    TAP_OK(n == 3 && !strcmp(seen, "a||bc|"), "cli_list_next: 'a,,bc' is a, '', bc (%s)", seen);
    p = "";
    n = 0;
    while (cli_list_next(&p, ',', &item, &len)) n += len == 0;
    const char *none = NULL;
    TAP_OK(n == 1 && !cli_list_next(&none, ',', &item, &len),
           "cli_list_next: '' is one empty item, NULL none");

    size_t *v = NULL, m = 0;
    TAP_OK(cli_list_sizes("test", "depth", "1,3,2", 1, 3, 3, true, "depths", &v, &m) == CLI_OK &&
               m == 3 && v[0] == 1 && v[1] == 3 && v[2] == 2,
           "cli_list_sizes: 1,3,2");
    free(v);
    const char *bad[] = {"", "1,", ",1", "1,,2", "0", "4", "1,1", "1,2,3,1", "x", "1 ,2"};
    bool all = true;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = NULL;
        all &= cli_list_sizes("test", "depth", bad[i], 1, 3, 3, true, "depths", &v, &m) ==
                   CLI_USAGE && v == NULL;
    }
    TAP_OK(all, "cli_list_sizes: empty items, out of range, repeats, too many: usage errors");
    TAP_OK(cli_list_sizes("test", "columns", "5,5", 0, SIZE_MAX, SIZE_MAX, false, "columns", &v,
                          &m) == CLI_OK && m == 2,
           "cli_list_sizes: repeats allowed unless distinct");
    free(v);
}

static void check_classes(void)
{
    const int32_t lab[] = {0, 1, 2}, pred[] = {0, 1, 2};
    const char *names[] = {"cat", "7", "dog"};
    barlow_dataset *ds = NULL;
    int32_t id = -1;
    if (barlow_dataset_create(3, lab, pred, names, 3, &ds) != BARLOW_OK) {
        TAP_OK(0, "dataset: %s", barlow_last_error());
        return;
    }
    TAP_OK(cli_class_id(ds, "dog", &id) && id == 2, "cli_class_id: a name");
    TAP_OK(cli_class_id(ds, "7", &id) && id == 1, "cli_class_id: a name before an id");
    TAP_OK(cli_class_id(ds, "0", &id) && id == 0 && cli_class_id(ds, "02", &id) && id == 2,
           "cli_class_id: a decimal id");
    id = -1;
    TAP_OK(!cli_class_id(ds, "3", &id) && !cli_class_id(ds, "-1", &id) &&
               !cli_class_id(ds, " 1", &id) && !cli_class_id(ds, "cow", &id) && id == -1,
           "cli_class_id: no such name or id");
    barlow_dataset_free(ds);
}

static void check_files(void)
{
    char *path = NULL;
    const char *member = NULL;
    TAP_OK(cli_split_spec("d/f.npz:labels", &path, &member) == 0 && !strcmp(path, "d/f.npz") &&
               member && !strcmp(member, "labels"),
           "cli_split_spec: F.npz:member");
    free(path);
    TAP_OK(cli_split_spec("m.manifest.json:predictions", &path, &member) == 0 &&
               !strcmp(path, "m.manifest.json") && member && !strcmp(member, "predictions"),
           "cli_split_spec: M.json:member");
    free(path);
    TAP_OK(cli_split_spec("a:b.npy", &path, &member) == 0 && !strcmp(path, "a:b.npy") && !member,
           "cli_split_spec: anything else is a path");
    free(path);
    char *j = cli_path_join("run", "index.html");
    TAP_OK(j && !strcmp(j, "run/index.html"), "cli_path_join");
    free(j);
}

int main(void)
{
    check_numbers();
    check_enums();
    check_lists();
    check_classes();
    check_files();
    return tap_done();
}

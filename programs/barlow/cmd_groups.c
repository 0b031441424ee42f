/* barlow groups: the groups of a metadata CSV (by label or by prediction)
 * with their sizes, failures and base error rates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char groups_usage[] =
    "usage: barlow groups --metadata M.csv --by label|prediction\n"
    "                     [--class-names N.txt] [--json]\n"
    "\n"
    "Groups the rows of a metadata CSV (header Filenames,Predictions,Labels)\n"
    "by their label or by their prediction and prints, for every class with at\n"
    "least one row, in class-id order: the group's size, its failures\n"
    "(prediction != label) and its base error rate (failures / size).\n"
    "\n"
    "  --metadata M.csv     the metadata CSV (RFC 4180 quoting)\n"
    "  --by label|prediction  the column to group on\n"
    "  --class-names N.txt  one class name per line; class id i = line i+1\n"
    "                       (default: the names in the CSV, in byte order)\n"
    "  --json               print {\"groups\": [{\"name\", \"size\", \"failures\",\n"
    "                       \"base_error_rate\"}]} instead of a table\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 bad usage.\n";

int cmd_groups(int argc, char **argv)
{
    const char *metadata = NULL, *by_text = NULL, *class_names = NULL;
    bool json = false, help = false;
    const cli_opt opts[] = {
        {"metadata", true, &metadata, NULL},
        {"by", true, &by_text, NULL},
        {"class-names", true, &class_names, NULL},
        {"json", false, NULL, &json},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], groups_usage, &help);
    if (rc != CLI_OK || help) return rc;
    if (!metadata) return cli_usage_error("groups", "--metadata is required");
    if (!by_text) return cli_usage_error("groups", "--by is required (label or prediction)");
    barlow_group_by by;
    if (cli_group_by("groups", by_text, &by) != CLI_OK) return CLI_USAGE;

    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.class_names_path = class_names;
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(metadata, &o, &ds);
    if (st != BARLOW_OK) return cli_fail("groups", st);

    size_t k = barlow_dataset_class_count(ds);
    size_t *sizes = malloc(k * sizeof *sizes), *fails = malloc(k * sizeof *fails);
    if (!sizes || !fails) {
        free(sizes);
        free(fails);
        barlow_dataset_free(ds);
        cli_set_error("out of memory (%zu classes)", k);
        return cli_fail("groups", BARLOW_E_NOMEM);
    }
    st = barlow_dataset_class_counts(ds, by, sizes, fails);
    if (st != BARLOW_OK) {
        free(sizes);
        free(fails);
        barlow_dataset_free(ds);
        return cli_fail("groups", st);
    }

    if (json) {
        fputs("{\"groups\": [", stdout);
        bool first = true;
        for (size_t c = 0; c < k; c++) {
            if (!sizes[c]) continue;
            fputs(first ? "\n  {\"name\": " : ",\n  {\"name\": ", stdout);
            first = false;
            cli_json_string(barlow_dataset_class_name(ds, (int32_t)c));
            printf(", \"size\": %zu, \"failures\": %zu, \"base_error_rate\": ", sizes[c],
                   fails[c]);
            cli_json_double((double)fails[c] / (double)sizes[c]);
            putchar('}');
        }
        fputs(first ? "]}\n" : "\n]}\n", stdout);
    } else {
        int width = 10;
        for (size_t c = 0; c < k; c++) {
            size_t len = strlen(barlow_dataset_class_name(ds, (int32_t)c));
            if (sizes[c] && len > (size_t)width) width = len > 60 ? 60 : (int)len;
        }
        printf("%-*s  %8s  %8s  %15s\n", width, cli_grouping_name(by), "size", "failures",
               "base error rate");
        for (size_t c = 0; c < k; c++) {
            if (!sizes[c]) continue;
            printf("%-*s  %8zu  %8zu  %15.4f\n", width, barlow_dataset_class_name(ds, (int32_t)c),
                   sizes[c], fails[c], (double)fails[c] / (double)sizes[c]);
        }
    }
    free(sizes);
    free(fails);
    barlow_dataset_free(ds);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

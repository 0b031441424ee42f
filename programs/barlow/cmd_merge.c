/* barlow merge: checks the shards of a sharded extraction (barlow extract
 * --shard i/N) and writes their manifest, which analyze, visualize and run
 * read as one features file (barlow/shards.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char merge_usage[] =
    "usage: barlow merge SHARD.npz... --out FEATURES.manifest.json [--quiet]\n"
    "\n"
    "Checks that the shards written by `barlow extract --shard i/N` are\n"
    "complete (every i of N once), disjoint and alike (the same dataset size,\n"
    "model, predictions' model and extractor options), and writes a small\n"
    "manifest naming them (docs/formats.md). `barlow analyze --features`,\n"
    "`barlow visualize --features` and `barlow run --features` take the\n"
    "manifest wherever they take a features file, and M.json:labels,\n"
    "M.json:predictions wherever they take F.npz:labels; the shards' features\n"
    "are mapped, never loaded as a whole, and the results are those of one\n"
    "unsharded extraction, bit for bit. Shards are named relative to the\n"
    "manifest's directory when they lie under it.\n"
    "\n"
    "  --out F     the manifest to write (atomically)\n"
    "  --quiet     no summary line\n"
    "\n"
    "Exit status: 0 success, 1 error (nothing written), 2 bad usage.\n";

int cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    bool quiet = false, help = false;
    const cli_opt opts[] = {{"out", true, &out, NULL}, {"quiet", false, NULL, &quiet}};
    const char **shards = calloc((size_t)argc + 1, sizeof *shards);
    if (!shards) return cli_fail("merge", BARLOW_E_NOMEM);
    size_t n = 0;
    int rc = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], merge_usage, &help,
                            shards, &n);
    if (rc == CLI_OK && !help) {
        if (n == 0) rc = cli_usage_error("merge", "no shards given");
        else if (!out) rc = cli_usage_error("merge", "--out is required");
    }
    if (rc != CLI_OK || help) {
        free(shards);
        return rc;
    }
    cli_file outs[] = {{"out", out}};
    cli_file *ins = calloc(n, sizeof *ins);
    if (!ins) {
        free(shards);
        return cli_fail("merge", BARLOW_E_NOMEM);
    }
    for (size_t i = 0; i < n; i++) ins[i] = (cli_file){"shard", shards[i]};
    barlow_status st = BARLOW_OK;
    if (cli_check_outputs("merge", outs, 1, ins, n) != CLI_OK) rc = CLI_ERROR;
    else st = barlow_shards_merge(shards, n, out);
    if (rc == CLI_OK && st != BARLOW_OK) rc = cli_fail("merge", st);
    if (rc == CLI_OK && !quiet) fprintf(stderr, "barlow merge: %zu shards -> %s\n", n, out);
    free(ins);
    free(shards);
    return rc;
}

/* barlow demo: barlow run on the built-in default, the shipped Fashion-MNIST
 * models (models/) on Debian's Fashion-MNIST test split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#ifndef BARLOW_MODELS_DIRS
#define BARLOW_MODELS_DIRS "models"
#endif

static const char usage_text[] =
    "usage: barlow demo [--out DIR] [--models DIR] [--data DIR] [--depth D[,D...]]\n"
    "                   [--attack-steps N | --no-attack] [--threads N]\n"
    "                   [--single-file] [--force] [--quiet]\n"
    "\n"
    "Runs barlow run on the built-in default: the shipped robust CNN\n"
    "(fmnist_robust.pt, the features) and standard CNN (fmnist_standard.pt, the\n"
    "model whose failures are explained) on the Fashion-MNIST test split\n"
    "(10 000 images, all 10 classes, grouped by label and by prediction), and\n"
    "prints where the report is.\n"
    "\n"
    "  --out DIR      the run directory (barlow-demo)\n"
    "  --models DIR   where fmnist_robust.pt, fmnist_standard.pt and\n"
    "                 fmnist_classes.txt are (default: $BARLOW_MODELS, else the\n"
    "                 installed models, else the source tree's models/)\n"
    "  --data DIR     where t10k-images-idx3-ubyte.gz and\n"
    "                 t10k-labels-idx1-ubyte.gz are (Debian's\n"
    "                 dataset-fashion-mnist: /usr/share/datasets/fashion-mnist)\n"
    "  --depth, --attack-steps, --no-attack, --threads, --single-file, --force,\n"
    "  --quiet        as for barlow run\n";

static bool is_file(const char *dir, const char *name)
{
    char path[8192];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The first directory of $BARLOW_MODELS, then BARLOW_MODELS_DIRS (a
 * ':'-separated list fixed at build time), that holds the robust model. */
static const char *find_models(char *buf, size_t size)
{
    const char *env = getenv("BARLOW_MODELS");
    const char *lists[] = {env, BARLOW_MODELS_DIRS};
    for (size_t l = 0; l < 2; l++) {
        const char *p = lists[l], *dir;
        size_t len;
        while (cli_list_next(&p, ':', &dir, &len)) {
            if (len == 0 || len >= size) continue;
            memcpy(buf, dir, len);
            buf[len] = '\0';
            if (is_file(buf, "fmnist_robust.pt")) return buf;
        }
    }
    return NULL;
}

int cmd_demo(int argc, char **argv)
{
    const char *out = "barlow-demo", *models = NULL, *data = "/usr/share/datasets/fashion-mnist",
               *depth = NULL, *steps = NULL, *threads = NULL;
    bool no_attack = false, single = false, force = false, quiet = false, help = false;
    const cli_opt opts[] = {
        {"out", true, &out, NULL},          {"models", true, &models, NULL},
        {"data", true, &data, NULL},        {"depth", true, &depth, NULL},
        {"attack-steps", true, &steps, NULL}, {"threads", true, &threads, NULL},
        {"no-attack", false, NULL, &no_attack}, {"single-file", false, NULL, &single},
        {"force", false, NULL, &force},     {"quiet", false, NULL, &quiet},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], usage_text, &help);
    if (rc != CLI_OK || help) return rc;
    char found[4096];
    static const char *const files[] = {"fmnist_robust.pt", "fmnist_standard.pt",
                                        "fmnist_classes.txt"};
    for (size_t i = 0; models && i < 3; i++)
        if (!is_file(models, files[i])) {
            fprintf(stderr, "barlow demo: --models %s has no %s (the shipped models are in the "
                            "repository's models/)\n", models, files[i]);
            return CLI_ERROR;
        }
    if (!models && !(models = find_models(found, sizeof found))) {
        fprintf(stderr, "barlow demo: the shipped models are not in $BARLOW_MODELS or %s; give "
                        "--models DIR (the repository's models/)\n", BARLOW_MODELS_DIRS);
        return CLI_ERROR;
    }
    char robust[4200], standard[4200], names[4200], images[4200], labels[4200];
    snprintf(robust, sizeof robust, "%s/fmnist_robust.pt", models);
    snprintf(standard, sizeof standard, "%s/fmnist_standard.pt", models);
    snprintf(names, sizeof names, "%s/fmnist_classes.txt", models);
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", data);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", data);
    if (!is_file(data, "t10k-images-idx3-ubyte.gz")) {
        fprintf(stderr, "barlow demo: %s is missing: install Debian's dataset-fashion-mnist "
                        "(scripts/setup does) or give --data DIR\n", images);
        return CLI_ERROR;
    }
    const char *args[32] = {"run", "--model", robust, "--predict", standard,
                            "--idx", images, "--idx-labels", labels,
                            "--class-names", names, "--out", out};
    int n = 13;
    if (depth) args[n++] = "--depth", args[n++] = depth;
    if (steps) args[n++] = "--attack-steps", args[n++] = steps;
    if (threads) args[n++] = "--threads", args[n++] = threads;
    if (no_attack) args[n++] = "--no-attack";
    if (single) args[n++] = "--single-file";
    if (force) args[n++] = "--force";
    if (quiet) args[n++] = "--quiet";
    args[n] = NULL;
    return cmd_run(n, (char **)args);
}

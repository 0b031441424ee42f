/* barlow — the command-line front end of libbarlow.
 *
 *   barlow <command> [options]      barlow <command> --help
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"select", cmd_select, "rank features by how much they tell about failure"},
    {"groups", cmd_groups, "list the groups of a metadata CSV with their error rates"},
    {"tree", cmd_tree, "fit a failure tree on a group's features and print its rules"},
    {"extract", cmd_extract, "penultimate features of a TorchScript model for a dataset (.npz)"},
    {"analyze", cmd_analyze, "analyse every class and grouping of a dataset (JSON, CSV)"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: barlow <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'barlow <command> --help' describes a command's options.\n"
                "libbarlow %s\n", barlow_version_string());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("barlow %s\n", barlow_version_string());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "barlow: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

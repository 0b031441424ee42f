/* barlow — the command-line front end of libbarlow.
 *
 *   barlow <command> [options]      barlow <command> --help
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
    {"merge", cmd_merge, "join the shards of `extract --shard i/N` into a manifest"},
    {"analyze", cmd_analyze, "analyse every class and grouping of a dataset (JSON, CSV)"},
    {"visualize", cmd_visualize, "what one feature looks at: top images, heatmaps, attacks (PNG)"},
    {"run", cmd_run, "the whole workflow on a model and a dataset, with an HTML report"},
    {"demo", cmd_demo, "barlow run on the shipped Fashion-MNIST models and test split"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: barlow <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'barlow <command> --help' describes a command's options.\n%s"
                "libbarlow %s\n", cli_common_usage, barlow_version_string());
}

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread (the mask is
 * inherited by the threads the library starts) and taken by this one
 * thread with sigwait: it removes the library's temporary files (and a
 * run's staging directory), then dies of the signal as the program would
 * have. */
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    if (sigwait(set, &sig) != 0) return NULL;
    barlow_output_remove_temporaries();
    cli_remove_cleanup_dir();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    return NULL;
}

static void start_signal_thread(void)
{
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, signal_thread, &set) != 0)
        pthread_sigmask(SIG_UNBLOCK, &set, NULL); /* no thread: default handling */
    pthread_attr_destroy(&attr);
}

/* A command's output that could not be written (a full disk, a closed
 * pipe, >/dev/full) is an error with a message, whatever the command
 * returned. */
static int finish_stdout(const char *cmd, int rc)
{
    errno = 0;
    int bad = fflush(stdout) != 0;
    int e = errno;
    if (!bad && !ferror(stdout)) return rc;
    fprintf(stderr, "barlow %s: writing to standard output failed%s%s\n", cmd, e ? ": " : "",
            e ? strerror(e) : "");
    return CLI_ERROR;
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
        if (!strcmp(argv[1], commands[i].name)) {
            start_signal_thread();
            return finish_stdout(argv[1], commands[i].run(argc - 1, argv + 1));
        }
    fprintf(stderr, "barlow: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

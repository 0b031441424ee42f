/* Shared helpers of the `barlow` command-line program. Each subcommand lives
 * in its own cmd_<name>.c and is registered in main.c. Exit codes: 0 success,
 * 1 error (the library's message on stderr), 2 bad usage. */
#ifndef BARLOW_CLI_H
#define BARLOW_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <barlow/barlow.h>

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

/* One long option of a subcommand: "--name VALUE" (or "--name=VALUE"), or a
 * flag ("--name") when has_value is false. */
typedef struct cli_opt {
    const char *name;    /* without the leading dashes */
    bool has_value;
    const char **value;  /* receives the value (has_value) */
    bool *flag;          /* set to true when present (!has_value) */
} cli_opt;

/* Parses argv[1..] against opts; "--help"/"-h" prints usage and returns
 * CLI_OK with *help set. Unknown options, missing values and stray arguments
 * print a message plus the usage to stderr and return CLI_USAGE. */
int cli_parse(int argc, char **argv, const cli_opt *opts, size_t n_opts,
              const char *usage, bool *help);

/* cli_parse that also takes arguments that are not options: they are
 * stored, in order, in pos (room for argc entries) and counted in *n_pos. */
int cli_parse_args(int argc, char **argv, const cli_opt *opts, size_t n_opts,
                   const char *usage, bool *help, const char **pos, size_t *n_pos);

/* Number parsing with range checks; print a usage error naming the option. */
int cli_size(const char *opt, const char *text, size_t min, size_t max, size_t *out);
int cli_u32(const char *opt, const char *text, uint32_t *out);
int cli_double(const char *opt, const char *text, double *out);

/* Sets a CLI-side error message (for checks the CLI makes itself); cli_fail
 * prints it instead of the library's message. */
void cli_set_error(const char *fmt, ...);

/* The CLI-side message if one was set, else barlow_last_error(). */
const char *cli_error_text(void);

/* Prints "barlow <cmd>: <message>" to stderr (the CLI-side message if one was
 * set, else barlow_last_error()); returns CLI_ERROR. */
int cli_fail(const char *cmd, barlow_status st);

/* Prints "barlow <cmd>: <message>" plus "try --help" to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Prints a double as a JSON number (round-trip precision; null if not finite). */
void cli_json_double(double v);

/* The text that every command's --help ends with (the common options). */
extern const char cli_common_usage[];

/* Splits "F.npz:member" (or a manifest's "M.json:member") into a new
 * string F.npz (*path, free it) and
 * *member (pointing into spec); any other spec → a copy and NULL member.
 * Returns -1 when out of memory. */
int cli_split_spec(const char *spec, char **path, const char **member);

/* An option naming a file: "--opt spec" (spec NULL when not given). */
typedef struct cli_file {
    const char *opt;
    const char *spec;
} cli_file;

/* Checked before any work: every output can be written (barlow_output_check:
 * absent or a regular file in a writable directory), and no output is
 * another output or an input (the same path or the same existing file;
 * inputs may be F.npz:member). Prints "barlow CMD: ..." and returns
 * CLI_ERROR on the first problem, else CLI_OK. */
int cli_check_outputs(const char *cmd, const cli_file *outs, size_t n_outs, const cli_file *ins,
                      size_t n_ins);

/* Loads a float32 matrix from F.npy, or from F.npz (member "features" unless
 * "F.npz:member" names another), or opens a manifest's features (M.json,
 * barlow merge's; mapped, barlow_matrix_open_manifest). */
barlow_status cli_load_matrix(const char *spec, barlow_matrix **out);

/* Member `member` of an extraction file: an .npz, or a manifest (then the
 * shards' members joined, barlow_array_load_manifest). */
barlow_status cli_load_member(const char *path, const char *member, barlow_array **out);

/* 1 when path is an extraction file with members (F.npz, or a manifest). */
int cli_is_extraction(const char *path);

/* Loads a 1-D array of 0/1 (bool/int/float) failure flags of length n from
 * F.npy or F.npz:member. */
barlow_status cli_load_failures(const char *path, size_t n, uint8_t **out);

/* The dataset options of the commands that read images (extract,
 * visualize): exactly one source, --metadata M.csv with --images DIR,
 * --folder DIR, or --idx IMAGES with --idx-labels LABELS; --class-names
 * with --metadata (fixing the CSV's ids) or --idx (naming the IDX ids,
 * barlow_dataset_set_class_names_file). NULL: not given. */
typedef struct cli_dataset_args {
    const char *metadata, *images, *folder, *idx, *idx_labels, *class_names;
} cli_dataset_args;

/* Usage checks of a dataset source (the rules above); prints "barlow CMD:
 * ..." and returns CLI_USAGE on the first problem, else CLI_OK. */
int cli_check_dataset_args(const char *cmd, const cli_dataset_args *a);

/* The model input options of extract and visualize: the extractor's
 * defaults (224, resize 256, RGB), for --idx 28x28 grey without resize,
 * then --size/--resize/--channels when given (NULL: not given; checked
 * ranges, channels 1 or 3). Returns CLI_OK or CLI_USAGE (message
 * printed). */
int cli_input_options(const char *cmd, const cli_dataset_args *a, const char *size,
                      const char *resize, const char *channels, barlow_extractor_options *eo);

/* Loads the dataset the arguments name (checked by cli_check_dataset_args). */
barlow_status cli_load_dataset(const cli_dataset_args *a, barlow_dataset **ds);

/* A progress bar on stderr ("WHAT [####....] done/total  R UNIT/s  ETA
 * m:ss"), drawn only when stderr is a terminal and not --quiet. */
typedef struct cli_progress {
    const char *what;
    const char *unit;
    double start; /* cli_now() at cli_progress_start */
    size_t base;  /* units done at `start` (0; a caller may move both on) */
    int tty;
    int drawn;
} cli_progress;

/* Lists on stderr the images an extraction skipped ("barlow CMD: WHAT:
 * skipped k of n images:", then up to 20 rows with their reasons). */
void cli_report_skipped(const char *cmd, const barlow_extraction *r, const char *what);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* (Re)starts the bar for a new phase; quiet: never draw. */
void cli_progress_start(cli_progress *p, const char *what, const char *unit, bool quiet);

/* A barlow_progress_fn; user is a cli_progress. Never cancels. */
int cli_progress_fn(size_t done, size_t total, void *user);

/* Ends the bar's line when one was drawn. */
void cli_progress_end(cli_progress *p);

/* Subcommands. */
int cmd_select(int argc, char **argv);
int cmd_groups(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_visualize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Removes the staging directory of a `barlow run` in progress, if any
 * (run_dir.c); called by the signal thread before the program dies. */
void cli_remove_cleanup_dir(void);

#endif

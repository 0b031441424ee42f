/* The one set of helpers of the `barlow` command-line program
 * (programs/barlow/): option parsing; one parser per kind of option value
 * (numbers, enumerations, comma-separated lists, classes); messages; JSON
 * on stdout; F.npz:member specs, loading and output checks; the dataset
 * options; the progress bar. Each subcommand lives in its own cmd_<name>.c
 * and is registered in main.c; what a helper here does, no command does
 * itself. Exit codes: 0 success, 1 error (the library's message on
 * stderr), 2 bad usage. */
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

/* ---- option values: numbers, enumerations, lists ------------------------------
 * One parser for each kind of value, used by every command. */

/* Silent parsers (they print nothing): a decimal integer in min..max (no
 * sign), a finite number. true with *out set, else false and *out untouched. */
bool cli_parse_size(const char *text, size_t min, size_t max, size_t *out);
bool cli_parse_double(const char *text, double *out);

/* Number parsing with range checks; print a usage error naming the option
 * ("barlow: --k=0 is not an integer >= 1") and return -1, else 0. */
int cli_size(const char *opt, const char *text, size_t min, size_t max, size_t *out);
int cli_u32(const char *opt, const char *text, uint32_t *out);
int cli_double(const char *opt, const char *text, double *out);

/* One word an enumerated option accepts and its value. A word whose value
 * an earlier word has is an alias: messages name the first word only. */
typedef struct cli_choice {
    const char *word;
    int value;
} cli_choice;

/* The value of the word `text` among n choices: true and *value, or false
 * (prints nothing). */
bool cli_choice_find(const cli_choice *choices, size_t n, const char *text, int *value);

/* An enumerated option --OPT: CLI_OK with *value, or the usage error
 * "barlow CMD: --OPT=TEXT (must be a, b or c)" and CLI_USAGE. */
int cli_enum(const char *cmd, const char *opt, const char *text, const cli_choice *choices,
             size_t n, int *value);

/* The enumerations several commands take (cli_enum on one table each):
 * --estimator knn|split-gain|mean; --by label|prediction (one grouping);
 * --by label|prediction|label,prediction (the analysis' groupings,
 * BARLOW_ANALYSIS_BY_*; "prediction,label" and "both" are aliases). */
int cli_estimator(const char *cmd, const char *text, barlow_estimator *out);
int cli_group_by(const char *cmd, const char *text, barlow_group_by *out);
int cli_groupings(const char *cmd, const char *text, uint32_t *out);

/* "label" or "prediction": a grouping's word, as --by takes it. */
const char *cli_grouping_name(barlow_group_by by);

/* Steps through a list "a,b,c" of items separated by `sep`: *item and *len
 * (not NUL-terminated; an item may be empty) and true, or false after the
 * last. Start with *p at the text ("" is one empty item; NULL none). */
bool cli_list_next(const char **p, char sep, const char **item, size_t *len);

/* A comma-separated list of integers in min..max, at most max_n of them
 * (SIZE_MAX: any number), all different when `distinct`: CLI_OK with *out
 * (free it) and *n_out >= 1. Anything else is the usage error "barlow CMD:
 * --OPT=TEXT (must be a comma-separated list of [distinct ]WHAT[ in
 * MIN..MAX][, at most N])" and CLI_USAGE; CLI_ERROR (cli_set_error) when
 * out of memory. */
int cli_list_sizes(const char *cmd, const char *opt, const char *text, size_t min, size_t max,
                   size_t max_n, bool distinct, const char *what, size_t **out, size_t *n_out);

/* The rule filter of tree and analyze: --min-coverage X, --min-error-rate
 * X, --max-p-value X (NULL: not given). */
typedef struct cli_rule_args {
    const char *min_coverage, *min_error_rate, *max_p_value;
} cli_rule_args;

/* The cli_opt rows of those options, into the cli_rule_args `ra`. */
#define CLI_RULE_OPTIONS(ra)                                 \
    {"min-coverage", true, &(ra).min_coverage, NULL},        \
        {"min-error-rate", true, &(ra).min_error_rate, NULL}, \
        {"max-p-value", true, &(ra).max_p_value, NULL}

/* barlow_rule_options_init, then the values given: CLI_OK, or CLI_USAGE
 * (message printed). */
int cli_rule_options(const cli_rule_args *a, barlow_rule_options *ro);

/* A class of the dataset by its name, else by its decimal id: true and
 * *id, or false (prints nothing). */
bool cli_class_id(const barlow_dataset *ds, const char *text, int32_t *id);

/* ---- messages ------------------------------------------------------------------ */

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

/* JSON on stdout: a number (round-trip precision; null if not finite), and
 * a string literal with its quotes (NULL: null; escaped as the library's
 * JSON writer does: bytes of ill-formed UTF-8 as \udcXX). */
void cli_json_double(double v);
void cli_json_string(const char *s);

/* The text that every command's --help ends with (the common options). */
extern const char cli_common_usage[];

/* ---- files -------------------------------------------------------------------- */

/* Splits "F.npz:member" (or a manifest's "M.json:member") into a new
 * string F.npz (*path, free it) and
 * *member (pointing into spec); any other spec → a copy and NULL member.
 * Returns -1 when out of memory. Every F.npz:member spec goes through it. */
int cli_split_spec(const char *spec, char **path, const char **member);

/* dir + "/" + name, a new string (free it), or NULL when out of memory. */
char *cli_path_join(const char *dir, const char *name);

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

/* An array from F.npy, or member M of an extraction file (F.npz:M or
 * M.json:M); an extraction file without a member is refused ("WHAT SPEC is
 * an .npz archive or a manifest: name the member as SPEC:MEMBER"; what may
 * be NULL). */
barlow_status cli_load_array(const char *spec, const char *what, barlow_array **out);

/* Member `member` of an extraction file: an .npz, or a manifest (then the
 * shards' members joined, barlow_array_load_manifest). */
barlow_status cli_load_member(const char *path, const char *member, barlow_array **out);

/* 1 when path is an extraction file with members (F.npz, or a manifest). */
int cli_is_extraction(const char *path);

/* Loads a 1-D array of 0/1 (bool/int/float) failure flags of length n from
 * F.npy or F.npz:member. */
barlow_status cli_load_failures(const char *path, size_t n, uint8_t **out);

/* The dataset and model input options of the commands that read images
 * (extract, visualize, run): exactly one source, --metadata M.csv with
 * --images DIR, --folder DIR, or --idx IMAGES with --idx-labels LABELS;
 * --class-names with --metadata (fixing the CSV's ids) or --idx (naming the
 * IDX ids, barlow_dataset_set_class_names_file); --size, --resize,
 * --channels (cli_input_options). NULL: not given. */
typedef struct cli_dataset_args {
    const char *metadata, *images, *folder, *idx, *idx_labels, *class_names;
    const char *size, *resize, *channels;
} cli_dataset_args;

/* The cli_opt rows of those options, into the cli_dataset_args `da`. */
#define CLI_DATASET_OPTIONS(da)                                                               \
    {"metadata", true, &(da).metadata, NULL}, {"images", true, &(da).images, NULL},         \
        {"folder", true, &(da).folder, NULL}, {"idx", true, &(da).idx, NULL},               \
        {"idx-labels", true, &(da).idx_labels, NULL},                                         \
        {"class-names", true, &(da).class_names, NULL}, {"size", true, &(da).size, NULL},    \
        {"resize", true, &(da).resize, NULL}, {"channels", true, &(da).channels, NULL}

/* Usage checks of a dataset source (the rules above); prints "barlow CMD:
 * ..." and returns CLI_USAGE on the first problem, else CLI_OK. */
int cli_check_dataset_args(const char *cmd, const cli_dataset_args *a);

/* The model input options: the extractor's defaults (224, resize 256,
 * RGB), for --idx 28x28 grey without resize, then --size/--resize/
 * --channels when given (checked ranges, channels 1 or 3). Returns CLI_OK
 * or CLI_USAGE (message printed). */
int cli_input_options(const char *cmd, const cli_dataset_args *a, barlow_extractor_options *eo);

/* Loads the dataset the arguments name (checked by cli_check_dataset_args). */
barlow_status cli_load_dataset(const cli_dataset_args *a, barlow_dataset **ds);

/* ---- progress ------------------------------------------------------------------ */

/* The one progress bar of every command, on stderr ("WHAT [####....]
 * done/total  R UNIT/s  ETA m:ss"), drawn only when stderr is a terminal
 * and not --quiet. */
typedef struct cli_progress {
    const char *what;
    const char *unit;
    double start;    /* cli_now() at cli_progress_start */
    size_t base;     /* units done at `start` */
    int tty;
    int drawn;
    bool from_first; /* time the rate from the first call, not from the start
                        (work before it, e.g. loading images, is not counted);
                        set it after cli_progress_start */
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

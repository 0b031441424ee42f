/* Feature names (--feature-names F.json): what a person wrote down that a
 * feature shows ("buckle", "dog collar"), and rule sentences that use them.
 *
 * F.json is one JSON object (UTF-8, at most the TEXT_BYTES limit). A member
 * whose value is a string names a feature for every class; a member whose
 * value is an object names features for one class (the key is a class name
 * of the dataset, or a class id), overriding the names for all classes:
 *
 *   {"13": "buckle", "77": "water",
 *    "Sandal": {"13": "ankle strap"}}
 *
 * Feature keys are decimal column indices (< the feature count); names are
 * 1..200 bytes of UTF-8 without control characters. */
#ifndef BARLOW_CLI_FEATNAMES_H
#define BARLOW_CLI_FEATNAMES_H

#include <stddef.h>
#include <stdint.h>

#include <barlow/barlow.h>

#include "sbuf.h"

typedef struct feature_names feature_names;

/* Reads F.json for a dataset (its class names resolve the per-class keys)
 * and n_features columns. Returns CLI_OK with *out set, or CLI_ERROR with
 * cli_set_error() naming the file and what is wrong (line and column of a
 * syntax error, an unknown class, a feature index out of range, a name that
 * is empty, too long or not text). */
int feature_names_load(const char *path, const barlow_dataset *ds, size_t n_features,
                       feature_names **out);

void feature_names_free(feature_names *fn); /* NULL is allowed */

/* The name of `feature` for class_id (its class's name, else the name for
 * all classes), or NULL. fn may be NULL. */
const char *feature_names_get(const feature_names *fn, int32_t class_id, size_t feature);

/* Appends "buckle (feature 13)" when the feature has a name for the class,
 * else "feature 13". */
void feature_label(const feature_names *fn, int32_t class_id, size_t feature, sbuf *out);

/* Appends the rule of node `id` as one plain UTF-8 sentence, like
 * barlow_tree_rule_text()'s but with feature_label() for each feature:
 * "When buckle (feature 13) ≤ 0.0893 and feature 7 > 1.2 the error rate
 * rises from 50.0% to 100.0% (72 of 72 failures, 72 images)"; the root
 * reads "For all 1406 images the error rate is 20.2% (284 of 284 failures, 1406 images)". */
void rule_sentence(const barlow_tree *tree, size_t id, const feature_names *fn,
                   int32_t class_id, sbuf *out);

/* The names of every feature for class_id (its class's names over the
 * names for every class; NULL where none) as an array of the feature count
 * for barlow_tree_rule_text_named()/barlow_svg_options: *out (free it with
 * bw_free; not its strings, which fn owns) and *n_out; NULL and 0 when fn
 * is NULL. Returns CLI_OK, or CLI_ERROR when out of memory. */
int feature_names_for_class(const feature_names *fn, int32_t class_id, const char ***out,
                            size_t *n_out);

/* Appends a JSON template for F.json naming the given features (ascending,
 * no repeats) with empty names, those already named keeping their name:
 * {"13": "buckle", "77": ""}. */
void feature_names_template(const feature_names *fn, const size_t *features, size_t n,
                            sbuf *out);

#endif

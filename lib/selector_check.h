/*
 * Internal: the selector's check of its options, shared by
 * barlow_selector_create and the modules whose own options carry selector
 * settings (the analysis' estimator and n_neighbors), so that one function
 * owns the ranges and their messages. The rest of the selector is reached
 * through include/barlow/selector.h. Not installed; bw_* names are hidden.
 */
#ifndef BW_SELECTOR_CHECK_H
#define BW_SELECTOR_CHECK_H

#include "barlow/selector.h"

/* The largest n_neighbors a selector takes. */
enum { BW_SELECTOR_MAX_NEIGHBORS = 1000000 };

/* Checks selector options (NULL: the defaults) and writes the effective
 * options, with the current version, to *out: INVALID_ARG for an unknown
 * version ("<who>: barlow_selector_options ..."), an estimator that is not
 * a barlow_estimator, n_neighbors outside 1..BW_SELECTOR_MAX_NEIGHBORS,
 * each message naming who, the field, its value and the allowed values.
 * seed and threads take any value. */
barlow_status bw_selector_check_options(const barlow_selector_options *in,
                                        barlow_selector_options *out, const char *who);

#endif /* BW_SELECTOR_CHECK_H */

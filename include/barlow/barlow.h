/*
 * libbarlow — find out why an image classifier fails.
 *
 * The umbrella header: includes every public header of the library. See
 * common.h for the conventions (status codes, errors, ownership, options,
 * threads) that every function follows.
 */
#ifndef BARLOW_BARLOW_H
#define BARLOW_BARLOW_H

#include "common.h"
#include "matrix.h"

#endif /* BARLOW_BARLOW_H */

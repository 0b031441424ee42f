/*
 * libbarlow — find out why an image classifier fails.
 *
 * The umbrella header: includes every public header of the library. See
 * common.h for the conventions (status codes, errors, ownership, options,
 * threads) that every function follows.
 */
#ifndef BARLOW_BARLOW_H
#define BARLOW_BARLOW_H

#include "analysis.h"
#include "common.h"
#include "dataset.h"
#include "extractor.h"
#include "image.h"
#include "loaders.h"
#include "matrix.h"
#include "selector.h"
#include "shards.h"
#include "tree.h"
#include "visualizer.h"

#endif /* BARLOW_BARLOW_H */

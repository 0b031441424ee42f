/* barlow extract: penultimate features of a robust TorchScript model for
 * every image of a dataset, into an .npz (features, labels, predictions,
 * index, status; logits with --logits). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: barlow extract --model MODEL.pt\n"
    "         (--metadata M.csv --images DIR | --folder DIR |\n"
    "          --idx IMAGES.idx[.gz] --idx-labels LABELS.idx[.gz])\n"
    "         [--predict INSPECTED.pt] [--size 224] [--resize 256] [--channels 3]\n"
    "         [--batch 32] [--model-batch N] [--threads N] [--decode-threads N]\n"
    "         [--device cpu] [--max-image-side 32768] [--max-pixels 268435456]\n"
    "         [--sha256 HEX] [--predict-sha256 HEX] [--class-names FILE]\n"
    "         [--logits] [--no-optimize] [--no-tune-malloc] [--quiet]\n"
    "         [--shard i/N] --out FEATURES.npz\n"
    "\n"
    "Runs MODEL (TorchScript, libbarlow's model contract: docs/models.md) over\n"
    "every image and writes FEATURES.npz with the members features (m x D),\n"
    "index (dataset row of each extracted image), labels, predictions (when\n"
    "known), status (per dataset row: 0 or why the image was skipped) and,\n"
    "with --logits, MODEL's logits.\n"
    "\n"
    "  --model F          the robust feature model (a TorchScript file is code:\n"
    "                     load only models you trust; see --sha256)\n"
    "  --metadata F       metadata CSV (Filenames,Predictions,Labels), paths\n"
    "                     relative to --images DIR\n"
    "  --folder DIR       an image folder DIR/<class>/<image>\n"
    "  --idx F            IDX images (MNIST family, .gz allowed) with\n"
    "                     --idx-labels F\n"
    "  --predict F        a classifier (TorchScript, forward -> logits) whose\n"
    "                     argmax becomes the predictions (class ids must match\n"
    "                     the dataset's: see --class-names)\n"
    "  --class-names F    one class name per line fixing the CSV's class ids, or\n"
    "                     naming the IDX ids (line i+1 = id i); the names are\n"
    "                     stored in the .npz (member class_names)\n"
    "  --size N           model input size, the centre crop (224)\n"
    "  --resize N         shorter side before the crop; 0 = none (256)\n"
    "  --channels N       1 (grey) or 3 (RGB, default)\n"
    "  --batch N          images decoded and run per step (32)\n"
    "  --model-batch N    images per forward call within a step; 0 = auto:\n"
    "                     ~2.4 MB of input on cpu (4 at 224x224), the whole\n"
    "                     batch on cuda (0)\n"
    "  --threads N        libtorch threads, 0 = all cores (0)\n"
    "  --decode-threads N image decoding threads, 0 = auto (0)\n"
    "  --device D         cpu, cuda or cuda:N (cpu)\n"
    "  --max-image-side N refuse (skip) images wider or taller (32768)\n"
    "  --max-pixels N     refuse (skip) images of more pixels (268435456 = 2^28);\n"
    "                     the memory of all decodes at once is capped by\n"
    "                     --limit decode=SIZE\n"
    "  --sha256 HEX       refuse MODEL unless its SHA-256 is HEX\n"
    "  --predict-sha256 HEX  the same for --predict\n"
    "  --logits           also store MODEL's logits\n"
    "  --no-optimize      run the model as loaded (no freezing/oneDNN)\n"
    "  --no-tune-malloc   leave glibc malloc's thresholds alone (by default they\n"
    "                     are raised so that activation buffers are reused)\n"
    "  --shard i/N        extract only shard i (0-based) of N: the i-th of N\n"
    "                     contiguous row ranges (on multiples of --batch), into\n"
    "                     a shard file that `barlow merge` joins with the\n"
    "                     others into a manifest (docs/scale.md)\n"
    "  --quiet            no progress bar\n"
    "\n"
    "A progress bar (images/s, ETA) is drawn on stderr when it is a terminal.\n"
    "Unreadable images are skipped and listed; the exit status is non-zero\n"
    "only when nothing could be extracted.\n";

int cmd_extract(int argc, char **argv)
{
    const char *model = NULL, *predict = NULL, *batch_s = NULL, *mbatch_s = NULL,
               *threads_s = NULL, *dthreads_s = NULL, *device = NULL, *sha = NULL, *psha = NULL,
               *out = NULL, *side_s = NULL, *pixels_s = NULL, *shard_s = NULL;
    cli_dataset_args da = {0};
    bool logits = false, no_opt = false, no_tune = false, quiet = false, help = false;
    const cli_opt opts[] = {
        {"model", true, &model, NULL},          CLI_DATASET_OPTIONS(da),
        {"predict", true, &predict, NULL},
        {"batch", true, &batch_s, NULL},        {"threads", true, &threads_s, NULL},
        {"model-batch", true, &mbatch_s, NULL},
        {"decode-threads", true, &dthreads_s, NULL},
        {"device", true, &device, NULL},        {"sha256", true, &sha, NULL},
        {"predict-sha256", true, &psha, NULL},
        {"out", true, &out, NULL},              {"logits", false, NULL, &logits},
        {"no-optimize", false, NULL, &no_opt},  {"quiet", false, NULL, &quiet},
        {"no-tune-malloc", false, NULL, &no_tune},
        {"max-image-side", true, &side_s, NULL}, {"max-pixels", true, &pixels_s, NULL},
        {"shard", true, &shard_s, NULL},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], usage_text, &help);
    if (rc != CLI_OK || help) return rc;
    if (!model) return cli_usage_error("extract", "--model is required");
    if (!out) return cli_usage_error("extract", "--out is required");
    if (cli_check_dataset_args("extract", &da) != CLI_OK) return CLI_USAGE;
    if (psha && !predict) return cli_usage_error("extract", "--predict-sha256 needs --predict");
    size_t shard_i = 0, shard_n = 0;
    if (shard_s && barlow_shard_parse(shard_s, &shard_i, &shard_n) != BARLOW_OK)
        return cli_usage_error("extract", "--shard: %s",
                               strchr(barlow_last_error(), ':') + 2);

    barlow_extractor_options eo;
    if (cli_input_options("extract", &da, &eo) != CLI_OK)
        return CLI_USAGE;
    if ((batch_s && cli_size("batch", batch_s, 1, 65536, &eo.batch_size)) ||
        (mbatch_s && cli_size("model-batch", mbatch_s, 0, 65536, &eo.model_batch)) ||
        (threads_s && cli_size("threads", threads_s, 0, 1024, &eo.threads)) ||
        (dthreads_s && cli_size("decode-threads", dthreads_s, 0, 256, &eo.decode_threads)) ||
        (side_s && cli_size("max-image-side", side_s, 1, 2147483647u, &eo.max_image_side)))
        return CLI_USAGE;
    if (pixels_s) {
        size_t v;
        if (cli_size("max-pixels", pixels_s, 1, (size_t)1 << 40, &v) != 0) return CLI_USAGE;
        eo.max_image_pixels = v;
    }
    const cli_file outs[] = {{"out", out}};
    const cli_file ins[] = {{"model", model},          {"predict", predict},
                            {"metadata", da.metadata}, {"class-names", da.class_names},
                            {"idx", da.idx},           {"idx-labels", da.idx_labels}};
    if (cli_check_outputs("extract", outs, 1, ins, sizeof ins / sizeof ins[0]) != CLI_OK)
        return CLI_ERROR;
    eo.device = device;
    eo.optimize = no_opt ? 0 : 1;
    eo.tune_malloc = no_tune ? 0 : 1;

    barlow_dataset *ds = NULL;
    barlow_extractor *ex = NULL, *px = NULL;
    barlow_extraction *r = NULL, *rp = NULL;
    cli_progress ps;
    cli_progress_start(&ps, "extract", "img", quiet);
    barlow_status st = cli_load_dataset(&da, &ds);
    if (st != BARLOW_OK) goto fail;
    size_t begin = 0, end = barlow_dataset_size(ds);
    if (shard_s && (st = barlow_shard_range(end, shard_i, shard_n, eo.batch_size, &begin,
                                            &end)) != BARLOW_OK)
        goto fail;

    char predict_sha[65] = "";
    if (predict) {
        barlow_extractor_options po = eo;
        po.outputs = BARLOW_EXTRACT_LOGITS;
        po.sha256 = psha;
        if ((st = barlow_extractor_create_from_file(predict, &po, &px)) != BARLOW_OK) goto fail;
        snprintf(predict_sha, sizeof predict_sha, "%s", barlow_extractor_model_sha256(px));
        cli_progress_start(&ps, "predict", "img", quiet);
        st = barlow_extractor_predict_range(px, ds, begin, end, cli_progress_fn, &ps, &rp);
        cli_progress_end(&ps);
        if (st != BARLOW_OK) goto fail;
        cli_report_skipped("extract", rp, predict);
        barlow_extractor_free(px);
        px = NULL;
    }

    eo.sha256 = sha;
    eo.outputs = BARLOW_EXTRACT_FEATURES | (logits ? BARLOW_EXTRACT_LOGITS : 0);
    if ((st = barlow_extractor_create_from_file(model, &eo, &ex)) != BARLOW_OK) goto fail;
    cli_progress_start(&ps, "extract", "img", quiet);
    st = barlow_extractor_extract_range(ex, ds, begin, end, cli_progress_fn, &ps, &r);
    cli_progress_end(&ps);
    if (st != BARLOW_OK) goto fail;
    double secs = cli_now() - ps.start;
    cli_report_skipped("extract", r, model);
    if (shard_s) {
        barlow_shard_options so;
        barlow_shard_options_init(&so);
        so.index = shard_i;
        so.count = shard_n;
        so.predict_sha256 = predict ? predict_sha : NULL;
        st = barlow_extraction_save_shard(r, ds, ex, &so, out);
    } else {
        st = barlow_extraction_save_npz(r, ds, out);
    }
    if (st != BARLOW_OK) goto fail;
    if (!quiet && shard_s)
        fprintf(stderr, "barlow extract: shard %zu of %zu, rows %zu..%zu\n", shard_i, shard_n,
                begin, end - 1);
    if (!quiet)
        fprintf(stderr,
                "barlow extract: %zu of %zu images -> %s (%zu features%s) in %.1f s "
                "(%.1f img/s)\n",
                barlow_extraction_count(r), barlow_extraction_dataset_size(r), out,
                barlow_extractor_feature_count(ex), logits ? " + logits" : "", secs,
                secs > 0 ? (double)barlow_extraction_dataset_size(r) / secs : 0.0);
    barlow_extraction_free(r);
    barlow_extraction_free(rp);
    barlow_extractor_free(ex);
    barlow_dataset_free(ds);
    return CLI_OK;
fail:
    cli_progress_end(&ps);
    rc = cli_fail("extract", st);
    barlow_extraction_free(r);
    barlow_extraction_free(rp);
    barlow_extractor_free(ex);
    barlow_extractor_free(px);
    barlow_dataset_free(ds);
    return rc;
}

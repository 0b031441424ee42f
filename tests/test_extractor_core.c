/* White-box tests of the extractor's pure-C parts, run in every build
 * (with or without libtorch): SHA-256 against FIPS 180-4 / NIST vectors,
 * option validation (checked before the model is touched), and — in a
 * -Dtorch=disabled build — that the extractor says it is unavailable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <barlow/barlow.h>

#include "sha256.h"
#include "tap.h"

static void test_sha256(void)
{
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
         "klmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[65];
        bw_sha256_hex(v[i].msg, strlen(v[i].msg), hex);
        TAP_OK(!strcmp(hex, v[i].hex), "sha256 vector %zu (%zu bytes)", i, strlen(v[i].msg));
    }
    /* one million 'a' in uneven pieces (streaming across block boundaries) */
    bw_sha256 s;
    uint8_t d[32];
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    bw_sha256_init(&s);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t k = step < left ? step : left;
        if (k > sizeof chunk) k = sizeof chunk;
        bw_sha256_update(&s, chunk, k);
        left -= k;
        step = step % 997 + 13;
    }
    bw_sha256_final(&s, d);
    static const uint8_t want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                     0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                     0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                     0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    TAP_OK(!memcmp(d, want, 32), "sha256 of 10^6 'a' fed in uneven chunks");
    /* 55/56/64-byte messages: the padding edge cases agree with streaming */
    for (size_t n = 55; n <= 65; n++) {
        char buf[65], h1[65], h2[65];
        memset(buf, 'x', n);
        bw_sha256_hex(buf, n, h1);
        bw_sha256_init(&s);
        for (size_t i = 0; i < n; i++) bw_sha256_update(&s, buf + i, 1);
        bw_sha256_final(&s, d);
        for (int i = 0; i < 32; i++) snprintf(h2 + 2 * i, 3, "%02x", d[i]);
        TAP_OK(!strcmp(h1, h2), "sha256 one-shot == byte-by-byte at %zu bytes", n);
    }
}

static void expect_bad_option(barlow_extractor_options o, const char *needle)
{
    barlow_extractor *sentinel = (barlow_extractor *)&o, *ex = sentinel;
    static const char model[] = "not a model";
    barlow_status st = barlow_extractor_create_from_memory(model, sizeof model, &o, &ex);
    TAP_OK(st == BARLOW_E_INVALID_ARG && strstr(barlow_last_error(), needle) && ex == sentinel,
           "option %s rejected (%s)", needle, barlow_last_error());
}

static void test_options(void)
{
    barlow_extractor_options o, d;
    barlow_extractor_options_init(&d);
    TAP_OK(d.version == BARLOW_EXTRACTOR_OPTIONS_VERSION && d.input_size == 224 &&
               d.resize == 256 && d.channels == 3 && d.batch_size == 32 && d.optimize == 1 &&
               d.outputs == BARLOW_EXTRACT_FEATURES && d.device == NULL && d.sha256 == NULL,
           "option defaults (224/256, 3 channels, batch 32, features)");
    barlow_extractor_options_init(NULL);
    o = d; o.version = 0;      expect_bad_option(o, "barlow_extractor_options");
    o = d; o.version = 99;     expect_bad_option(o, "barlow_extractor_options");
    o = d; o.input_size = 0;   expect_bad_option(o, "input_size=0 (must be 1..4096)");
    o = d; o.resize = 70000;   expect_bad_option(o, "resize=70000 (must be 0..65536)");
    o = d; o.channels = 2;     expect_bad_option(o, "channels=2 (must be 1 or 3)");
    o = d; o.batch_size = 0;   expect_bad_option(o, "batch_size=0");
    o = d; o.threads = 5000;   expect_bad_option(o, "threads=5000");
    o = d; o.outputs = 4;      expect_bad_option(o, "outputs=4");
    o = d; o.outputs = 0;      expect_bad_option(o, "outputs=0");
    o = d; o.normalize = 2;    expect_bad_option(o, "normalize=2");
    o = d; o.optimize = -1;    expect_bad_option(o, "optimize=-1");
    o = d; o.normalize = 1; o.std[1] = 0; expect_bad_option(o, "std[1]=0");
    o = d; o.normalize = 1; o.std[0] = INFINITY; expect_bad_option(o, "std[0]=inf");
    o = d; o.normalize = 1; o.mean[2] = NAN; expect_bad_option(o, "mean[2]=nan (must be finite)");
    o = d; o.normalize = 1; o.mean[2] = -INFINITY; expect_bad_option(o, "mean[2]=-inf");
    o = d; o.decode_threads = 257; expect_bad_option(o, "decode_threads=257 (must be 0..256)");
    o = d; o.max_image_side = 0; expect_bad_option(o, "max_image_side=0");
    {
        /* finite is all mean and std need: 1e31 is not an out-of-range value */
        o = d;
        o.normalize = 1;
        o.mean[0] = 1e31f;
        o.std[1] = 1e31f;
        barlow_extractor *ex1 = NULL;
        static const char junk[] = "not a model";
        barlow_status st = barlow_extractor_create_from_memory(junk, sizeof junk, &o, &ex1);
        TAP_OK(st != BARLOW_E_INVALID_ARG && ex1 == NULL,
               "mean[0] = std[1] = 1e31 are finite: accepted as options (%s)",
               barlow_last_error());
    }
    o = d; o.sha256 = "xyz";   expect_bad_option(o, "64 hexadecimal digits");
    o = d; o.max_image_pixels = 0; expect_bad_option(o, "max_image_pixels=0");
    o = d; o.model_batch = 70000; expect_bad_option(o, "model_batch=70000 (must be 0..65536)");
    TAP_OK(d.model_batch == 0 && d.tune_malloc == 1,
           "model_batch defaults to 0 (automatic), tune_malloc to 1");
    o = d; o.tune_malloc = 2; expect_bad_option(o, "tune_malloc=2 (must be 0 or 1)");
    {
        /* a version 1 caller's struct ends before model_batch: whatever
         * lies there is not read */
        o = d;
        o.version = 1;
        o.model_batch = 70000;
        barlow_extractor *ex1 = NULL;
        static const char junk[] = "not a model";
        barlow_status st = barlow_extractor_create_from_memory(junk, sizeof junk, &o, &ex1);
        TAP_OK(st != BARLOW_E_INVALID_ARG && !strstr(barlow_last_error(), "model_batch") &&
                   ex1 == NULL,
               "a version 1 struct is read without model_batch (%s)", barlow_last_error());
    }
    barlow_extractor *ex = (barlow_extractor *)&o;
    TAP_OK(barlow_extractor_create_from_file(NULL, NULL, &ex) == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "path is NULL") && ex == (barlow_extractor *)&o,
           "NULL path -> INVALID_ARG");
    TAP_OK(barlow_extractor_create_from_memory(NULL, 1, NULL, &ex) == BARLOW_E_INVALID_ARG,
           "NULL data -> INVALID_ARG");
    barlow_extractor_free(NULL);
    barlow_extraction_free(NULL);
    TAP_OK(barlow_extractor_feature_count(NULL) == 0 && barlow_extraction_count(NULL) == 0 &&
               barlow_extraction_row_status(NULL, 0) == BARLOW_E_INVALID_ARG &&
               barlow_extraction_row_reason(NULL, 0) == NULL,
           "accessors accept NULL");
    int32_t lab[2] = {0, 1};
    barlow_dataset *ds = NULL;
    barlow_dataset_create(2, lab, NULL, NULL, 0, &ds);
    barlow_extraction *r = (barlow_extraction *)&o;
    TAP_OK(barlow_extractor_extract(NULL, ds, NULL, NULL, &r) == BARLOW_E_INVALID_ARG &&
               r == (barlow_extraction *)&o && strstr(barlow_last_error(), "ex is NULL"),
           "extract with NULL extractor -> INVALID_ARG");
    barlow_dataset_free(ds);
}

static void test_without_torch(void)
{
#ifdef BARLOW_TEST_TORCH_DISABLED
    TAP_OK(barlow_has_torch() == 0, "barlow_has_torch() == 0 in a -Dtorch=disabled build");
    barlow_extractor *ex = (barlow_extractor *)&ex;
    static const char model[] = "whatever";
    barlow_status st = barlow_extractor_create_from_memory(model, sizeof model, NULL, &ex);
    TAP_OK(st == BARLOW_E_UNSUPPORTED &&
               strstr(barlow_last_error(), "libbarlow was built without libtorch") &&
               ex == (barlow_extractor *)&ex,
           "create -> UNSUPPORTED \"built without libtorch\" (%s)", barlow_last_error());
    st = barlow_extractor_create_from_file("/nonexistent.pt", NULL, &ex);
    TAP_OK(st == BARLOW_E_UNSUPPORTED, "create_from_file -> UNSUPPORTED");
#else
    TAP_OK(barlow_has_torch() == 1, "barlow_has_torch() == 1 in a libtorch build");
#endif
}

int main(void)
{
    test_sha256();
    test_options();
    test_without_torch();
    return tap_done();
}

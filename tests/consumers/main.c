/*
 * The smallest libbarlow consumer: built against the installed library with
 * pkg-config, CMake (find_package(barlow CONFIG), barlow::barlow) and as a
 * meson subproject (dependency('barlow')) by tests/abi/consumers.py. Prints
 * the library's version; fails if header and library disagree.
 */
#include <barlow/barlow.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    const char *v = barlow_version_string();
    barlow_buffer buf = {NULL, 0};

    if (strcmp(v, BARLOW_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s != library %s\n", BARLOW_VERSION_STRING, v);
        return 1;
    }
    /* a call with a documented no-op on an empty buffer */
    barlow_buffer_free(&buf);
    if (barlow_cpu_count() < 1 || strcmp(barlow_last_error(), "") != 0) return 1;
    printf("%s\n", v);
    return 0;
}

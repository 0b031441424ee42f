/*
 * Header compile test (tests/abi/headers.py builds it many ways).
 *
 *   -DBARLOW_HEADERTEST_HEADER=<barlow/x.h>
 *       includes that header first (it must be self-contained), twice (its
 *       include guard must work), then the umbrella header after it.
 *   -DBARLOW_HEADERTEST_SYMBOLS="file"
 *       a list of BARLOW_SYM(name) lines, one per declared function: the
 *       program takes the address of each, so linking proves that the
 *       library defines and exports every declared function.
 *
 * Compiled as C99 and C11 with -pedantic -Werror -Wall -Wextra. Run, it
 * checks that the headers and the library agree on the version.
 */
#ifdef BARLOW_HEADERTEST_HEADER
#include BARLOW_HEADERTEST_HEADER
#include BARLOW_HEADERTEST_HEADER
#endif
#include <barlow/barlow.h>

#include <stdio.h>
#include <string.h>

#ifdef BARLOW_HEADERTEST_SYMBOLS
#define BARLOW_SYM(name) (void (*)(void))name,
static void (*const symbols[])(void) = {
#include BARLOW_HEADERTEST_SYMBOLS
    NULL};
#undef BARLOW_SYM
#endif

int main(void)
{
    size_t n = 0;
    const char *v = barlow_version_string();
#ifdef BARLOW_HEADERTEST_SYMBOLS
    while (symbols[n] != NULL) n++;
#endif
    if (strcmp(v, BARLOW_VERSION_STRING) != 0 ||
        barlow_version_number() != (uint32_t)BARLOW_VERSION_NUMBER) {
        printf("header says %s (%d), library says %s (%u)\n", BARLOW_VERSION_STRING,
               BARLOW_VERSION_NUMBER, v, (unsigned)barlow_version_number());
        return 1;
    }
    printf("headertest (C): libbarlow %s, %zu functions linked\n", v, n);
    return 0;
}

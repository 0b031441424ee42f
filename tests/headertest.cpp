/*
 * C++ header test (tests/abi/headers.py builds it): the public headers must
 * compile as C++11 with -pedantic -Werror and declare every function
 * extern "C".
 *
 *   -DBARLOW_HEADERTEST_HEADER=<barlow/x.h>   that header first, twice
 *   -DBARLOW_HEADERTEST_SYMBOLS="file"        BARLOW_SYM(name) lines: the
 *       program takes the address of every declared function, so a
 *       declaration missing extern "C" fails to link (C++-mangled name).
 *
 * This file is compiled by the system C++ compiler from the test script, so
 * the project itself needs no C++ unless torch is enabled.
 */
#ifdef BARLOW_HEADERTEST_HEADER
#include BARLOW_HEADERTEST_HEADER
#include BARLOW_HEADERTEST_HEADER
#endif
#include <barlow/barlow.h>

#include <cstdio>
#include <cstring>

#ifdef BARLOW_HEADERTEST_SYMBOLS
typedef void (*any_fn)(void);
#define BARLOW_SYM(name) reinterpret_cast<any_fn>(name),
static const any_fn symbols[] = {
#include BARLOW_HEADERTEST_SYMBOLS
    0};
#undef BARLOW_SYM
#endif

int main()
{
    std::size_t n = 0;
    const char *v = barlow_version_string();
#ifdef BARLOW_HEADERTEST_SYMBOLS
    while (symbols[n] != 0) n++;
#endif
    if (std::strcmp(v, BARLOW_VERSION_STRING) != 0 ||
        barlow_version_number() != static_cast<uint32_t>(BARLOW_VERSION_NUMBER)) {
        std::printf("header says %s, library says %s\n", BARLOW_VERSION_STRING, v);
        return 1;
    }
    std::printf("headertest (C++): libbarlow %s, %lu functions linked\n", v,
                static_cast<unsigned long>(n));
    return 0;
}

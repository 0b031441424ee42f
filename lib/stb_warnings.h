/* Included right before a Debian stb header in the files that compile stb
 * privately (lib/stb_impl.c, lib/stb_write_impl.c): turns off, until the
 * matching "#pragma GCC diagnostic pop" after the stb include, the warnings
 * that stb's own code raises under libbarlow's flags. -Wunused-function
 * stays off to the end of the file: stb declares static functions that it
 * defines only for formats compiled out, and the warning fires there. */
#if defined(__GNUC__)
#  pragma GCC diagnostic ignored "-Wunused-function"
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wsign-compare"
#  pragma GCC diagnostic ignored "-Wmissing-prototypes"
#  pragma GCC diagnostic ignored "-Wshadow"
#  pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#  pragma GCC diagnostic ignored "-Wpedantic"
#  pragma GCC diagnostic ignored "-Wunused-parameter"
#  pragma GCC diagnostic ignored "-Wtype-limits"
#  pragma GCC diagnostic ignored "-Wstrict-prototypes"
#  pragma GCC diagnostic ignored "-Wcast-qual"
#  pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#  pragma GCC diagnostic ignored "-Wconversion"
#endif

/* The libtorch plugin loader (see torch_plugin.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include "torch_plugin.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define BW_TORCH_PLUGIN_FILE "libbarlow-torch.so"

static pthread_once_t bw_plugin_once = PTHREAD_ONCE_INIT;
static bw_torch_plugin bw_plugin_table;
static const bw_torch_plugin *bw_plugin; /* &bw_plugin_table once loaded */
static char bw_plugin_why[900];          /* why it did not load */
static int bw_plugin_nomem;              /* not tried: too little address space */

/* Address space libtorch's start-up takes (measured: 517 MiB for Debian's
 * libtorch 1.13 on x86-64), with a margin. Its static initialisers run
 * inside dlopen and end the process (std::terminate on bad_alloc) when an
 * address-space limit (RLIMIT_AS) leaves less, so the plugin is not tried
 * then. */
#define BW_TORCH_ADDRESS_SPACE_MIB 600u

/* The plugin's error callback: sets this thread's message. */
static barlow_status bw_plugin_set_error(barlow_status status, const char *message)
{
    return bw_error(status, "%s", message ? message : "(no message)");
}

static const bw_torch_host bw_plugin_host = {BW_TORCH_PLUGIN_ABI, bw_plugin_set_error};

/* Appends "; " (after the first) and printf-style text to bw_plugin_why. */
static void bw_why(const char *fmt, ...) BW_PRINTF(1, 2);
static void bw_why(const char *fmt, ...)
{
    size_t len = strlen(bw_plugin_why);
    if (len + 3 >= sizeof bw_plugin_why) return;
    if (len) {
        memcpy(bw_plugin_why + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bw_plugin_why + len, sizeof bw_plugin_why - len, fmt, ap);
    va_end(ap);
}

/* Tries one file; 1 when the plugin is loaded and its table taken. */
static int bw_plugin_try(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        if (!e) e = "unknown dlopen error";
        /* dlerror usually starts with the path itself: don't repeat it */
        size_t n = strlen(path);
        if (strncmp(e, path, n) == 0 && e[n] == ':') e += n + 1;
        while (*e == ' ') e++;
        bw_why("%s (%s)", path, e);
        return 0;
    }
    dlerror();
    void *sym = dlsym(h, BW_TORCH_PLUGIN_ENTRY);
    if (!sym) {
        const char *e = dlerror();
        bw_why("%s (no %s: %s)", path, BW_TORCH_PLUGIN_ENTRY, e ? e : "not found");
        dlclose(h);
        return 0;
    }
    bw_torch_plugin_entry entry;
    memcpy(&entry, &sym, sizeof entry); /* ISO C: no object → function cast */
    bw_torch_plugin t;
    memset(&t, 0, sizeof t);
    uint32_t theirs = entry(BW_TORCH_PLUGIN_ABI, &bw_plugin_host, &t);
    if (theirs != 0 || t.abi != BW_TORCH_PLUGIN_ABI || !t.load || !t.free || !t.run ||
        !t.feature_map || !t.feature_grad || !t.set_threads || !t.version) {
        bw_why("%s (plugin ABI %u, this libbarlow needs %u)", path,
               (unsigned)(theirs ? theirs : t.abi), (unsigned)BW_TORCH_PLUGIN_ABI);
        /* not dlclose'd: libtorch does not support being unloaded */
        return 0;
    }
    bw_plugin_table = t;
    bw_plugin = &bw_plugin_table;
    return 1;
}

/* Tries <dir>/<rel>/libbarlow-torch.so. */
static int bw_plugin_try_in(const char *dir, size_t dirlen, const char *rel)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%.*s/%s/%s", (int)dirlen, dir, rel,
                     BW_TORCH_PLUGIN_FILE);
    if (n < 0 || (size_t)n >= sizeof path) return 0;
    return bw_plugin_try(path);
}

/* The address space this process uses now (MiB), from /proc; 0 if unknown. */
static size_t bw_vm_size_mib(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!fp) return 0;
    if (fscanf(fp, "%lu", &pages) != 1) pages = 0;
    fclose(fp);
    return (size_t)((unsigned long long)pages * (unsigned long long)sysconf(_SC_PAGESIZE) >> 20);
}

/* 1 when RLIMIT_AS leaves room for libtorch's start-up (or there is no
 * limit); else records why. */
static int bw_plugin_room(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1;
    size_t limit = (size_t)(rl.rlim_cur >> 20), used = bw_vm_size_mib();
    size_t left = limit > used ? limit - used : 0;
    if (left >= BW_TORCH_ADDRESS_SPACE_MIB) return 1;
    bw_plugin_nomem = 1;
    bw_why("the address-space limit (RLIMIT_AS, %zu MiB) leaves %zu MiB; loading libtorch "
           "needs about %u MiB (its start-up would end the process)", limit, left,
           BW_TORCH_ADDRESS_SPACE_MIB);
    return 0;
}

static void bw_plugin_load(void)
{
    if (!bw_plugin_room()) return;
    const char *env = getenv("BARLOW_TORCH_PLUGIN");
    if (env && *env) {
        bw_plugin_try(env);
        return;
    }
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (dladdr((void *)(uintptr_t)&bw_plugin_set_error, &info) && info.dli_fname &&
        info.dli_fname[0]) {
        const char *slash = strrchr(info.dli_fname, '/');
        const char *dir = slash ? info.dli_fname : ".";
        size_t dirlen = slash ? (size_t)(slash - info.dli_fname) : 1;
        if (slash && dirlen == 0) dirlen = 1; /* "/libbarlow.so": the root */
        if (bw_plugin_try_in(dir, dirlen, BW_TORCH_PLUGIN_SUBDIR)) return;
        if (bw_plugin_try_in(dir, dirlen, "torch")) return;
    }
    bw_plugin_try(BW_TORCH_PLUGIN_INSTALL_DIR "/" BW_TORCH_PLUGIN_FILE);
}

const bw_torch_plugin *bw_torch_plugin_get(const char *who)
{
    pthread_once(&bw_plugin_once, bw_plugin_load);
    if (!bw_plugin && who && bw_plugin_nomem) {
        bw_error(BARLOW_E_NOMEM, "%s: the libtorch plugin %s was not loaded: %s", who,
                 BW_TORCH_PLUGIN_FILE, bw_plugin_why);
    } else if (!bw_plugin && who) {
        const char *env = getenv("BARLOW_TORCH_PLUGIN");
        bw_error(BARLOW_E_UNSUPPORTED,
                 "%s: the libtorch plugin %s could not be loaded (tried %s); %s", who,
                 BW_TORCH_PLUGIN_FILE, bw_plugin_why,
                 env && *env ? "only BARLOW_TORCH_PLUGIN's file is tried when it is set"
                             : "set BARLOW_TORCH_PLUGIN to its path");
    }
    return bw_plugin;
}

barlow_status bw_torch_plugin_status(void)
{
    pthread_once(&bw_plugin_once, bw_plugin_load);
    return bw_plugin_nomem ? BARLOW_E_NOMEM : BARLOW_E_UNSUPPORTED;
}
